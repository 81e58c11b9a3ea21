/** The earning context: versioned earning rules with caps, and quizzes. */
export {
  CAP_PERIODS,
  DEFAULT_RULES,
  EARNING_ACTIONS,
  MAX_CAP,
  MAX_POINTS_PER_GRANT,
  STREAK_EVERY_DAYS,
  validateRuleSetBody,
  type Cap,
  type CapPeriod,
  type EarningAction,
  type EarningRule,
  type RuleId,
  type RuleSet,
  type RuleSetBody,
  type StreakBonus,
} from './earning-rules';
export { RULES_STREAM, evolveRules, initialRulesState, publishDefaults, publishRules, rulesOf, type EarningRulesEvent, type RulesState } from './rule-book';
export { QUIZ_ID, evolveQuiz, initialQuizState, publishQuiz, quizStream, type Quiz, type QuizEvent, type QuizState } from './quiz';
