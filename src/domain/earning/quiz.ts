import { DomainError } from '../shared';

/**
 * Daily quizzes (stream `quiz-<quizId>`), published once by admins. The correct answer is kept in
 * the event so every grant can be recomputed; the member API never returns it.
 */

export interface Quiz {
  quizId: string;
  question: string;
  options: string[];
  correctAnswer: string;
  /**
   * The organisation whose subtree the quiz belongs to: only its members may answer it. Null for
   * quizzes published before quizzes had a scope, which stay open to the whole ledger.
   */
  orgId: string | null;
}

export type QuizEvent = { type: 'QuizPublished'; data: Quiz };
export interface QuizState {
  quiz: Quiz | null;
}

export const quizStream = (quizId: string): string => `quiz-${quizId}`;
export const QUIZ_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const initialQuizState: QuizState = { quiz: null };

export function evolveQuiz(state: QuizState, event: QuizEvent): QuizState {
  switch (event.type) {
    case 'QuizPublished':
      return { quiz: { ...event.data, orgId: event.data.orgId ?? null } };
    default: {
      const unknown: never = event.type;
      throw new Error(`unknown quiz event ${String(unknown)}`);
    }
  }
}

/** A quiz is published once; its question and answer never change (grants depend on them). */
export function publishQuiz(state: QuizState, quiz: Quiz): QuizEvent[] {
  if (!QUIZ_ID.test(quiz.quizId)) throw new DomainError('QUIZ.ID_INVALID', 'quiz id: 1-64 letters, digits, _ . : -', 400);
  if (!quiz.options.includes(quiz.correctAnswer)) throw new DomainError('QUIZ.ANSWER_INVALID', 'the correct answer must be one of the options', 400);
  if (state.quiz) throw new DomainError('QUIZ.ALREADY_PUBLISHED', `quiz ${quiz.quizId} already exists`, 409);
  const { quizId, question, options, correctAnswer, orgId } = quiz;
  if (orgId === null) throw new DomainError('QUIZ.SCOPE_REQUIRED', 'a new quiz belongs to an organisation', 400);
  return [{ type: 'QuizPublished', data: { quizId, question, options, correctAnswer, orgId } }];
}
