//! Reading the judge's answer: one JSON object, possibly wrapped in a ```json fence or
//! surrounded by prose. Pairwise answers need a known `choice`; score answers a `score` 1..10.

use crate::reward::Choice;
use shared::{Error, Result};

/// The JSON object in a judge's answer.
pub fn parse_object(text: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let bad = |m: &str| Error::invalid("judge answer", m.to_string());
    let t = text.trim();
    let t = t.strip_prefix("```json").or_else(|| t.strip_prefix("```")).unwrap_or(t);
    let t = t.strip_suffix("```").unwrap_or(t).trim();
    let v: serde_json::Value = match serde_json::from_str(t) {
        Ok(v) => v,
        Err(_) => {
            let (Some(s), Some(e)) = (t.find('{'), t.rfind('}')) else { return Err(bad("holds no JSON object")) };
            if e < s {
                return Err(bad("holds no JSON object"));
            }
            serde_json::from_str(&t[s..=e]).map_err(|e| bad(&format!("is not valid JSON: {e}")))?
        }
    };
    match v {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(bad("is JSON but not an object")),
    }
}

/// A pairwise answer's verdict.
pub fn parse_pairwise(text: &str) -> Result<Choice> {
    let m = parse_object(text)?;
    let c = m.get("choice").ok_or_else(|| Error::invalid("judge answer", "has no `choice` key"))?;
    Choice::parse(c.as_str().ok_or_else(|| Error::invalid("judge answer", format!("choice {c} is not a string")))?)
}

/// A score answer's score, 1..=10 (a string like upstream's, or a number).
pub fn parse_score(text: &str) -> Result<u8> {
    let m = parse_object(text)?;
    let s = m.get("score").ok_or_else(|| Error::invalid("judge answer", "has no `score` key"))?;
    let x: f64 = match s {
        serde_json::Value::String(s) => s.trim().parse().map_err(|_| Error::invalid("judge answer", format!("score {s:?} is not a number")))?,
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        other => return Err(Error::invalid("judge answer", format!("score {other} is not a number"))),
    };
    if x.fract() != 0.0 || !(1.0..=10.0).contains(&x) {
        return Err(Error::invalid("judge answer", format!("score {x} is not an integer in 1..10")));
    }
    Ok(x as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_and_prose_wrapped_answers() {
        assert_eq!(parse_pairwise("```json\n{\"choice\": \"B++\"}\n```").unwrap(), Choice::BMuchBetter);
        assert_eq!(parse_pairwise("Here you go: {\"analysis of A\": \"x\", \"choice\": \"A=B\"} done").unwrap(), Choice::Same);
        assert_eq!(parse_score("{\"strengths\": \"\", \"weaknesses\": \"\", \"score\": \"7\"}").unwrap(), 7);
        assert_eq!(parse_score("{\"score\": 3}").unwrap(), 3);
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert!(parse_pairwise("{\"choice\": \"A+++\"}").unwrap_err().to_string().contains("A+++"));
        assert!(parse_pairwise("{\"analysis of A\": \"x\"}").unwrap_err().to_string().contains("choice"));
        assert!(parse_pairwise("no json here").is_err());
        assert!(parse_score("{\"strengths\": \"x\"}").unwrap_err().to_string().contains("score"));
        assert!(parse_score("{\"score\": \"11\"}").is_err());
        assert!(parse_score("{\"score\": \"7.5\"}").is_err());
        assert!(parse_score("[1, 2]").is_err());
    }
}
