//! Label selectors read into the core's [`LabelSelector`], whose `matches` is the one
//! matching rule: the Kubernetes string syntax
//! (`tier=prod,region in (us-east-1,us-west-2),!legacy`), as used by the
//! `fleetplan.io/cluster-selector` annotation, and `metav1.LabelSelector` objects (a
//! Deployment's `spec.selector`, a PodDisruptionBudget's), by [`from_object`].
//!
//! Requirements are separated by commas; each is one of `k=v`, `k==v`, `k!=v`,
//! `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k` (does not exist), `k>N`, `k<N`.
//! Whitespace around tokens is ignored; an empty string selects everything. As in Kubernetes'
//! own parser, keys must be valid label keys and the values of `=`, `!=`, `in` and `notin`
//! valid label values (see [`crate::validation`]); those of `>` and `<` are integers.

use fleetplan::{LabelRequirement, LabelSelector, Operator};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use crate::validation;

/// A `metav1.LabelSelector` object as a [`LabelSelector`]: each `matchLabels` pair an `In`
/// of its one value, each of `matchExpressions` as written. None when an expression's
/// operator is not one of the four such a selector allows (it then selects nothing; the
/// readers that validate selectors refuse it, see [`validation::label_selector`]).
pub(crate) fn from_object(selector: &metav1::LabelSelector) -> Option<LabelSelector> {
    let mut requirements: Vec<LabelRequirement> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| LabelRequirement {
            key: key.clone(),
            operator: Operator::In,
            values: vec![value.clone()],
        })
        .collect();
    for expression in selector.match_expressions.iter().flatten() {
        let operator = match expression.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            _ => return None,
        };
        requirements.push(LabelRequirement {
            key: expression.key.clone(),
            operator,
            values: expression.values.clone().unwrap_or_default(),
        });
    }
    Some(LabelSelector { requirements })
}

/// Reads a label-selector string. The error says what was expected and at which character
/// (1-based).
pub(crate) fn parse_selector(input: &str) -> Result<LabelSelector, String> {
    let tokens = tokenize(input)?;
    let mut parser = Parser { tokens, next: 0 };
    let mut requirements = Vec::new();
    if parser.peek().is_none() {
        return Ok(LabelSelector { requirements });
    }
    loop {
        requirements.push(parser.requirement()?);
        match parser.take() {
            None => break,
            Some((Token::Comma, _)) => {}
            Some((token, at)) => return Err(format!("expected `,` at character {at}, found {token}")),
        }
    }
    Ok(LabelSelector { requirements })
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Comma,
    Open,
    Close,
    Not,
    Eq,
    NotEq,
    Gt,
    Lt,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) => write!(f, "`{w}`"),
            Token::Comma => f.write_str("`,`"),
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
            Token::Not => f.write_str("`!`"),
            Token::Eq => f.write_str("`=`"),
            Token::NotEq => f.write_str("`!=`"),
            Token::Gt => f.write_str("`>`"),
            Token::Lt => f.write_str("`<`"),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

/// Splits the input into tokens, each with its 1-based character position.
fn tokenize(input: &str) -> Result<Vec<(Token, usize)>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let at = i + 1;
        let next = chars.get(i + 1).copied();
        let (token, len) = match c {
            _ if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ',' => (Token::Comma, 1),
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            '>' => (Token::Gt, 1),
            '<' => (Token::Lt, 1),
            '!' if next == Some('=') => (Token::NotEq, 2),
            '!' => (Token::Not, 1),
            '=' if next == Some('=') => (Token::Eq, 2),
            '=' => (Token::Eq, 1),
            _ if is_word_char(c) => {
                let word: String = chars.iter().skip(i).take_while(|c| is_word_char(**c)).collect();
                let len = word.chars().count();
                (Token::Word(word), len)
            }
            _ => return Err(format!("unexpected character `{c}` at character {at}")),
        };
        tokens.push((token, at));
        i += len;
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(t, _)| t)
    }

    fn take(&mut self) -> Option<(Token, usize)> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn expected<T>(&mut self, what: &str) -> Result<T, String> {
        Err(match self.take() {
            Some((token, at)) => format!("expected {what} at character {at}, found {token}"),
            None => format!("expected {what}, found the end"),
        })
    }

    fn word(&mut self, what: &str) -> Result<String, String> {
        match self.peek() {
            Some(Token::Word(_)) => match self.take() {
                Some((Token::Word(w), _)) => Ok(w),
                _ => self.expected(what),
            },
            _ => self.expected(what),
        }
    }

    /// A value after `=`/`!=`; may be empty (`k=` selects an empty value).
    fn value(&mut self) -> String {
        match self.peek() {
            Some(Token::Word(_)) => match self.take() {
                Some((Token::Word(w), _)) => w,
                _ => String::new(),
            },
            _ => String::new(),
        }
    }

    fn requirement(&mut self) -> Result<LabelRequirement, String> {
        if self.peek() == Some(&Token::Not) {
            self.next += 1;
            let key = self.word("a label key after `!`")?;
            return requirement(key, Operator::DoesNotExist, vec![]);
        }
        let key = self.word("a label key")?;
        let (operator, values) = match self.peek() {
            None | Some(Token::Comma) => (Operator::Exists, vec![]),
            Some(Token::Eq) => {
                self.next += 1;
                (Operator::In, vec![self.value()])
            }
            Some(Token::NotEq) => {
                self.next += 1;
                (Operator::NotIn, vec![self.value()])
            }
            Some(Token::Gt | Token::Lt) => {
                let operator = if self.peek() == Some(&Token::Gt) {
                    Operator::Gt
                } else {
                    Operator::Lt
                };
                self.next += 1;
                let value = self.word("an integer")?;
                if value.parse::<i64>().is_err() {
                    return Err(format!(
                        "`{key}` is compared with `{value}`, which is not an integer"
                    ));
                }
                (operator, vec![value])
            }
            Some(Token::Word(w)) if w == "in" || w == "notin" => {
                let operator = if w == "in" { Operator::In } else { Operator::NotIn };
                self.next += 1;
                (operator, self.set()?)
            }
            Some(_) => return self.expected("an operator (=, ==, !=, in, notin, >, <) or `,`"),
        };
        requirement(key, operator, values)
    }

    /// `( v1, v2, ... )` with at least one value.
    fn set(&mut self) -> Result<Vec<String>, String> {
        if self.peek() != Some(&Token::Open) {
            return self.expected("`(`");
        }
        self.next += 1;
        let mut values = Vec::new();
        loop {
            values.push(self.word("a value")?);
            match self.take() {
                Some((Token::Comma, _)) => {}
                Some((Token::Close, _)) => return Ok(values),
                Some((token, at)) => {
                    return Err(format!("expected `,` or `)` at character {at}, found {token}"));
                }
                None => return Err("expected `)`, found the end".to_string()),
            }
        }
    }
}

/// A requirement with a valid key and, for `In` and `NotIn`, valid values.
fn requirement(key: String, operator: Operator, values: Vec<String>) -> Result<LabelRequirement, String> {
    validation::label_key(&key)?;
    if matches!(operator, Operator::In | Operator::NotIn) {
        for value in &values {
            validation::label_value(value)?;
        }
    }
    Ok(LabelRequirement {
        key,
        operator,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Vec<(String, Operator, Vec<String>)> {
        parse_selector(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .requirements
            .into_iter()
            .map(|r| (r.key, r.operator, r.values))
            .collect()
    }

    fn req(key: &str, op: Operator, values: &[&str]) -> (String, Operator, Vec<String>) {
        (key.into(), op, values.iter().map(|v| v.to_string()).collect())
    }

    #[test]
    fn every_operator() {
        use Operator::*;
        assert_eq!(parse("tier=prod"), [req("tier", In, &["prod"])]);
        assert_eq!(parse("tier==prod"), [req("tier", In, &["prod"])]);
        assert_eq!(parse("tier!=dev"), [req("tier", NotIn, &["dev"])]);
        assert_eq!(parse("env in (a,b)"), [req("env", In, &["a", "b"])]);
        assert_eq!(parse("env notin (a)"), [req("env", NotIn, &["a"])]);
        assert_eq!(parse("gpu"), [req("gpu", Exists, &[])]);
        assert_eq!(parse("!legacy"), [req("legacy", DoesNotExist, &[])]);
        assert_eq!(parse("size>3"), [req("size", Gt, &["3"])]);
        assert_eq!(parse("size<-3"), [req("size", Lt, &["-3"])]);
        assert_eq!(parse("tier="), [req("tier", In, &[""])]);
    }

    #[test]
    fn combinations_and_whitespace() {
        use Operator::*;
        assert_eq!(
            parse("  fleetplan.io/region in ( us-east-1 , us-west-2 ) ,tier = prod, !legacy,gpu  "),
            [
                req("fleetplan.io/region", In, &["us-east-1", "us-west-2"]),
                req("tier", In, &["prod"]),
                req("legacy", DoesNotExist, &[]),
                req("gpu", Exists, &[]),
            ]
        );
        assert!(parse("").is_empty());
        assert!(parse("   ").is_empty());
    }

    #[test]
    fn bad_syntax_is_explained() {
        let err = |s: &str| parse_selector(s).unwrap_err();
        assert_eq!(
            err("a b"),
            "expected an operator (=, ==, !=, in, notin, >, <) or `,` at character 3, found `b`"
        );
        assert_eq!(err("env in a"), "expected `(` at character 8, found `a`");
        assert_eq!(err("env in ()"), "expected a value at character 9, found `)`");
        assert_eq!(err("env in (a"), "expected `)`, found the end");
        assert_eq!(
            err("env in (a b)"),
            "expected `,` or `)` at character 11, found `b`"
        );
        assert_eq!(err("a=1,"), "expected a label key, found the end");
        assert_eq!(err(",a"), "expected a label key at character 1, found `,`");
        assert_eq!(err("!"), "expected a label key after `!`, found the end");
        assert_eq!(err("a>b"), "`a` is compared with `b`, which is not an integer");
        assert_eq!(err("a$b"), "unexpected character `$` at character 2");
        assert_eq!(
            err("a ("),
            "expected an operator (=, ==, !=, in, notin, >, <) or `,` at character 3, found `(`"
        );
        assert_eq!(err("a=b=c"), "expected `,` at character 4, found `=`");
    }

    #[test]
    fn keys_and_values_must_be_valid_labels() {
        let err = |s: &str| parse_selector(s).unwrap_err();
        assert_eq!(
            err("a/b/c=x"),
            "`a/b/c` is not a valid label key: it holds more than one `/`; a key is a name with an optional DNS \
             subdomain prefix and `/` (such as `example.com/my-key`)"
        );
        assert!(err("!/a").starts_with("`/a` is not a valid label key"));
        assert!(err("-tier").starts_with("`-tier` is not a valid label key"));
        assert!(err("tier=-prod").starts_with("`-prod` is not a valid label value"));
        assert!(err("tier in (a, b.)").starts_with("`b.` is not a valid label value"));
        let long = "a".repeat(64);
        assert_eq!(
            err(&format!("tier!={long}")),
            format!("`{long}` is not a valid label value: it is 64 characters long; at most 63")
        );
        assert_eq!(parse("Example.Tier_1=Prod.v2_x").len(), 1);
    }
}
