import type { Actor, EventStore } from '../../eventstore/event-store';
import { evolveQuiz, initialQuizState, publishQuiz, QUIZ_ID, quizStream, type Quiz, type QuizEvent, type QuizState } from '../../domain/earning';
import { CommandHandler } from '../command-handler';

/** Quizzes through the one command handler; a published quiz never changes, so its state is cached. */
const QUIZ_CACHE_ENTRIES = 10_000;

export class QuizBook {
  private readonly handler: CommandHandler<QuizState, QuizEvent>;
  /** Published quizzes are immutable: once seen, answered without a read. */
  private readonly published = new Map<string, Quiz>();

  constructor(store: EventStore) {
    this.handler = new CommandHandler(store, { name: 'quiz', initialState: initialQuizState, evolve: evolveQuiz }, { cacheEntries: QUIZ_CACHE_ENTRIES });
  }

  async get(quizId: string): Promise<Quiz | null> {
    if (!QUIZ_ID.test(quizId)) return null;
    const cached = this.published.get(quizId);
    if (cached) return cached;
    const { quiz } = (await this.handler.load(quizStream(quizId))).state;
    if (!quiz) return null;
    if (this.published.size >= QUIZ_CACHE_ENTRIES) this.published.delete(this.published.keys().next().value!);
    this.published.set(quizId, quiz);
    return quiz;
  }

  /** 'unchanged' when this command had already published it (a retried request). */
  async publish(quiz: Quiz, actor: Actor, commandId: string): Promise<'applied' | 'unchanged'> {
    // A malformed id is no stream name: let the decider refuse it (QUIZ.ID_INVALID) before any read.
    if (!QUIZ_ID.test(quiz.quizId)) publishQuiz(initialQuizState, quiz);
    const result = await this.handler.handle(quizStream(quiz.quizId), (state) => publishQuiz(state, quiz), { commandId, actor });
    return result.replayed ? 'unchanged' : 'applied';
  }
}
