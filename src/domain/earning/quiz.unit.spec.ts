import { deciderSpec } from '../../../test/support/given-when-then';
import { evolveQuiz, initialQuizState, publishQuiz, type Quiz, type QuizEvent } from './quiz';

const quizzes = deciderSpec({ initialState: initialQuizState, evolve: evolveQuiz, decide: (state, quiz: Quiz) => publishQuiz(state, quiz) });
const quiz: Quiz = { quizId: 'q-1', question: '工会法哪年颁布?', options: ['A', 'B'], correctAnswer: 'B', orgId: 'js-nj' };
const published: QuizEvent = { type: 'QuizPublished', data: quiz };

describe('publishing a quiz', () => {
  it('publishes it once, for the subtree of an organisation', () => {
    quizzes.given([]).when(quiz, undefined).then([published]);
    quizzes.given([published]).when(quiz, undefined).thenFails('QUIZ.ALREADY_PUBLISHED');
  });

  it('refuses a quiz without an organisation, a bad id, or a correct answer that is not an option', () => {
    quizzes.given([]).when({ ...quiz, orgId: null }, undefined).thenFails('QUIZ.SCOPE_REQUIRED');
    quizzes.given([]).when({ ...quiz, quizId: '-bad' }, undefined).thenFails('QUIZ.ID_INVALID');
    quizzes.given([]).when({ ...quiz, correctAnswer: 'C' }, undefined).thenFails('QUIZ.ANSWER_INVALID');
  });

  it('reads a quiz stored before quizzes had a scope as open to the whole ledger', () => {
    const old = { type: 'QuizPublished', data: { quizId: 'q-0', question: '?', options: ['A'], correctAnswer: 'A' } } as unknown as QuizEvent;
    expect(quizzes.given([old]).state().quiz).toMatchObject({ quizId: 'q-0', orgId: null });
  });
});
