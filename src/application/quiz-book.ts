import { ConcurrencyError } from '../eventstore/errors';
import type { Actor, EventStore } from '../eventstore/event-store';
import { DomainError } from '../domain/shared/errors';
import { deterministicEventId } from './event-ids';

/**
 * Daily quizzes (stream `quiz-<quizId>`), published by admins. The correct answer is kept in the
 * event so every grant can be recomputed; the member API never returns it.
 */
export interface Quiz {
  quizId: string;
  question: string;
  options: string[];
  correctAnswer: string;
}

export const quizStream = (quizId: string): string => `quiz-${quizId}`;
const QUIZ_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export class QuizBook {
  private readonly cache = new Map<string, Quiz>();

  constructor(
    private readonly store: EventStore,
    private readonly cacheEntries = 10_000,
  ) {}

  async get(quizId: string): Promise<Quiz | null> {
    if (!QUIZ_ID.test(quizId)) return null;
    const cached = this.cache.get(quizId);
    if (cached) return cached;
    const [event] = await this.store.readStream(quizStream(quizId), { maxCount: 1 });
    if (!event) return null;
    const quiz = event.data as unknown as Quiz;
    if (this.cache.size >= this.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(quizId, quiz);
    return quiz;
  }

  /** A quiz is published once; its question and answer never change (grants depend on them). */
  async publish(quiz: Quiz, actor: Actor, commandId: string): Promise<'applied' | 'unchanged'> {
    if (!QUIZ_ID.test(quiz.quizId)) throw new DomainError('QUIZ.ID_INVALID', 'quiz id: 1-64 letters, digits, _ . : -', 400);
    if (!quiz.options.includes(quiz.correctAnswer)) throw new DomainError('QUIZ.ANSWER_INVALID', 'the correct answer must be one of the options', 400);
    try {
      const result = await this.store.appendToStream(
        quizStream(quiz.quizId),
        [{ eventId: deterministicEventId(commandId, 0), type: 'QuizPublished', data: { ...quiz }, metadata: { occurredAt: new Date().toISOString(), actor, commandId } }],
        { expectedRevision: 'no_stream' },
      );
      return result.idempotentReplay ? 'unchanged' : 'applied';
    } catch (error) {
      if (error instanceof ConcurrencyError) throw new DomainError('QUIZ.ALREADY_PUBLISHED', `quiz ${quiz.quizId} already exists`, 409);
      throw error;
    }
  }
}
