//! The miniature instruction world: tasks with checkable answers, skills, the oracle, judges, simulated users, demonstrations, its tokenizer and the mini AlpacaEval.
