//! Baseline preference objectives as pure tensor functions: log-probs and token counts in, per-pair losses and metrics out.
