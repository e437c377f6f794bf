//! The condition language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of them`,
//! `N of x`. Precedence, lowest first: `or`, `and`, `not`.

use crate::ast::{Condition, OfTarget, Quantifier};
use crate::error::RuleError;

/// Conditions longer than this are rejected: the parser recurses on nesting, and no real
/// rule comes close (the corpus' longest is under 300 bytes).
const MAX_CONDITION_LEN: usize = 16 * 1024;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    And,
    Or,
    Not,
    Of,
    All,
    Them,
    Number(usize),
    Ident(&'a str),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token<'_>>, RuleError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            b'|' => {
                return Err(RuleError::DeprecatedAggregation(text[i..].trim().to_string()));
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'|') {
                    i += 1;
                }
                let word = &text[start..i];
                let token = match word.to_ascii_lowercase().as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    "of" => Token::Of,
                    "all" => Token::All,
                    "them" => Token::Them,
                    "near" => return Err(RuleError::DeprecatedAggregation(text[start..].trim().to_string())),
                    _ if word.bytes().all(|c| c.is_ascii_digit()) => Token::Number(
                        word.parse().map_err(|_| RuleError::Condition(format!("number `{word}` out of range")))?,
                    ),
                    _ => {
                        if !word.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'*' | b'.')) {
                            return Err(RuleError::Condition(format!("unexpected `{word}`")));
                        }
                        Token::Ident(word)
                    }
                };
                tokens.push(token);
            }
        }
    }
    Ok(tokens)
}

/// Parses one condition string.
pub fn parse_condition(text: &str) -> Result<Condition, RuleError> {
    if text.len() > MAX_CONDITION_LEN {
        return Err(RuleError::Limit(format!("condition longer than {MAX_CONDITION_LEN} bytes")));
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(RuleError::Condition("empty condition".into()));
    }
    let mut parser = Parser { tokens, pos: 0, depth: 0 };
    let condition = parser.or()?;
    if let Some(token) = parser.tokens.get(parser.pos) {
        return Err(RuleError::Condition(format!("unexpected {} after a complete expression", describe(token))));
    }
    Ok(condition)
}

fn describe(token: &Token) -> String {
    match token {
        Token::And => "`and`".into(),
        Token::Or => "`or`".into(),
        Token::Not => "`not`".into(),
        Token::Of => "`of`".into(),
        Token::All => "`all`".into(),
        Token::Them => "`them`".into(),
        Token::Number(n) => format!("`{n}`"),
        Token::Ident(s) => format!("`{s}`"),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Condition, RuleError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Condition::Or(parts) })
    }

    fn and(&mut self) -> Result<Condition, RuleError> {
        let mut parts = vec![self.unary()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Condition::And(parts) })
    }

    fn unary(&mut self) -> Result<Condition, RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RuleError::Limit(format!("condition nested deeper than {MAX_DEPTH}")));
        }
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Condition, RuleError> {
        match self.next() {
            Some(Token::Not) => Ok(Condition::Not(Box::new(self.unary()?))),
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    Some(t) => Err(RuleError::Condition(format!("expected `)`, found {}", describe(&t)))),
                    None => Err(RuleError::Condition("missing `)`".into())),
                }
            }
            Some(Token::All) => self.of(Quantifier::All),
            Some(Token::Number(n)) => {
                if n == 0 {
                    return Err(RuleError::Condition("`0 of` is never meaningful".into()));
                }
                self.of(Quantifier::AtLeast(n))
            }
            Some(Token::Ident(name)) => Ok(Condition::Search(name.to_string())),
            Some(t) => Err(RuleError::Condition(format!("unexpected {}", describe(&t)))),
            None => Err(RuleError::Condition("expression ends too early".into())),
        }
    }

    fn of(&mut self, quantifier: Quantifier) -> Result<Condition, RuleError> {
        match self.next() {
            Some(Token::Of) => {}
            Some(t) => return Err(RuleError::Condition(format!("expected `of`, found {}", describe(&t)))),
            None => return Err(RuleError::Condition("expected `of`".into())),
        }
        match self.next() {
            Some(Token::Them) => Ok(Condition::Of(quantifier, OfTarget::Them)),
            Some(Token::Ident(pattern)) => Ok(Condition::Of(quantifier, OfTarget::Pattern(pattern.to_string()))),
            Some(t) => Err(RuleError::Condition(format!(
                "expected `them` or a search identifier pattern after `of`, found {}",
                describe(&t)
            ))),
            None => Err(RuleError::Condition("expected `them` or a pattern after `of`".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str) -> Condition {
        Condition::Search(name.into())
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let c = parse_condition("a or not b and c").unwrap();
        assert_eq!(c, Condition::Or(vec![s("a"), Condition::And(vec![Condition::Not(Box::new(s("b"))), s("c")])]));
    }

    #[test]
    fn parentheses_override_precedence() {
        let c = parse_condition("(a or b) and c").unwrap();
        assert_eq!(c, Condition::And(vec![Condition::Or(vec![s("a"), s("b")]), s("c")]));
    }

    #[test]
    fn quantifiers() {
        assert_eq!(
            parse_condition("1 of sel*").unwrap(),
            Condition::Of(Quantifier::AtLeast(1), OfTarget::Pattern("sel*".into()))
        );
        assert_eq!(parse_condition("all of them").unwrap(), Condition::Of(Quantifier::All, OfTarget::Them));
        assert_eq!(
            parse_condition("2 of x_* and not 1 of filter_*").unwrap(),
            Condition::And(vec![
                Condition::Of(Quantifier::AtLeast(2), OfTarget::Pattern("x_*".into())),
                Condition::Not(Box::new(Condition::Of(Quantifier::AtLeast(1), OfTarget::Pattern("filter_*".into())))),
            ])
        );
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(
            parse_condition("a AND NOT b").unwrap(),
            Condition::And(vec![s("a"), Condition::Not(Box::new(s("b")))])
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "a and", "(a", "a)", "and a", "1 of", "all them", "a b", "0 of x", "a $ b"] {
            assert!(parse_condition(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn pipe_aggregation_is_a_clear_rejection() {
        let e = parse_condition("selection | count(User) by Host > 5").unwrap_err();
        assert_eq!(e.kind(), "deprecated-aggregation");
        assert!(parse_condition("a | near b").is_err());
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = format!("{}a{}", "(".repeat(1000), ")".repeat(1000));
        assert_eq!(parse_condition(&deep).unwrap_err().kind(), "limit");
        let nots = format!("{}a", "not ".repeat(1000));
        assert_eq!(parse_condition(&nots).unwrap_err().kind(), "limit");
    }
}
