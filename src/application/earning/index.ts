/** The earning context's use cases: the versioned rule book and quizzes. */
export { RuleBook, RULE_HISTORY_MAX } from './rule-book';
export { QuizBook } from './quiz-book';
