//! The `$filter` lexer: bytes to tokens with their byte offsets. One pass, no backtracking beyond
//! the token being read, no allocation but for identifiers and strings.
//!
//! Literal forms (OData ABNF names in brackets):
//!
//! ```text
//! string    = "'" { any char but "'" | "''" } "'"          [string, SQUOTE-in-string]
//! guid      = 8HEX "-" 4HEX "-" 4HEX "-" 4HEX "-" 12HEX      [guidValue]
//! date      = 4DIGIT "-" 2DIGIT "-" 2DIGIT                     [dateValue]
//! datetime  = date "T" 2DIGIT ":" 2DIGIT [ ":" 2DIGIT [ "." 1*9DIGIT ] ]
//!             ( "Z" | ( "+" | "-" ) 2DIGIT ":" 2DIGIT )         [dateTimeOffsetValue]
//! int       = [ "-" ] 1*DIGIT                                  [int64Value]
//! decimal   = [ "-" ] 1*DIGIT ( "." 1*DIGIT [ exp ] | exp )    [decimalValue, doubleValue]
//! exp       = ( "e" | "E" ) [ "+" | "-" ] 1*DIGIT
//! ident     = ( ALPHA | "_" ) { ALPHA | DIGIT | "_" }          [odataIdentifier]
//! ```
//!
//! A GUID is tried before a date or a number, and both before an identifier, so a GUID that
//! starts with letters or digits reads as one GUID.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::error::{ParseError, ParseErrorKind, QueryOption};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    LParen,
    RParen,
    Comma,
    Colon,
    Slash,
    /// `$count` after a `/`.
    DollarCount,
    Ident(String),
    Str(String),
    Int(i64),
    Decimal(f64),
    Guid(Uuid),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Eof,
}

impl Tok {
    /// How the token is named in error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::LParen => "'('".to_owned(),
            Self::RParen => "')'".to_owned(),
            Self::Comma => "','".to_owned(),
            Self::Colon => "':'".to_owned(),
            Self::Slash => "'/'".to_owned(),
            Self::DollarCount => "'$count'".to_owned(),
            Self::Ident(s) => format!("'{s}'"),
            Self::Str(_) => "a string".to_owned(),
            Self::Int(_) | Self::Decimal(_) => "a number".to_owned(),
            Self::Guid(_) => "a GUID".to_owned(),
            Self::Date(_) | Self::DateTime(_) => "a date".to_owned(),
            Self::Eof => "the end of the expression".to_owned(),
        }
    }
}

pub struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    option: QueryOption,
}

const fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

const fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, option: QueryOption) -> Self {
        Self {
            src: text.as_bytes(),
            text,
            pos: 0,
            option,
        }
    }

    fn err(&self, pos: usize, kind: ParseErrorKind) -> ParseError {
        ParseError::new(self.option, pos, kind)
    }

    fn peek_at(&self, i: usize) -> Option<u8> {
        self.src.get(i).copied()
    }

    /// Skips spaces (a `+` in a URL has already become a space).
    fn skip_ws(&mut self) {
        while let Some(b) = self.peek_at(self.pos) {
            if b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next token and the byte offset it starts at.
    pub fn next_token(&mut self) -> Result<(usize, Tok), ParseError> {
        self.skip_ws();
        let start = self.pos;
        let Some(b) = self.peek_at(start) else {
            return Ok((start, Tok::Eof));
        };
        let single = match b {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            b'/' => Some(Tok::Slash),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return Ok((start, t));
        }
        if b == b'\'' {
            return self.string(start).map(|t| (start, t));
        }
        if b == b'$' {
            let end = self.ident_end(start + 1);
            if self.text[start + 1..end].eq_ignore_ascii_case("count") {
                self.pos = end;
                return Ok((start, Tok::DollarCount));
            }
            return Err(self.err(start, ParseErrorKind::BadCharacter('$')));
        }
        if let Some(g) = self.guid(start) {
            return Ok((start, g));
        }
        if b.is_ascii_digit() || (b == b'-' && self.peek_at(start + 1).is_some_and(|c| c.is_ascii_digit())) {
            if b.is_ascii_digit()
                && let Some(t) = self.date(start)?
            {
                return Ok((start, t));
            }
            return self.number(start).map(|t| (start, t));
        }
        if is_ident_start(b) {
            let end = self.ident_end(start);
            self.pos = end;
            return Ok((start, Tok::Ident(self.text[start..end].to_owned())));
        }
        let c = self.text[start..].chars().next().unwrap_or('?');
        Err(self.err(start, ParseErrorKind::BadCharacter(c)))
    }

    fn ident_end(&self, from: usize) -> usize {
        let mut i = from;
        while self.peek_at(i).is_some_and(is_ident_char) {
            i += 1;
        }
        i
    }

    fn string(&mut self, start: usize) -> Result<Tok, ParseError> {
        let mut out = String::new();
        let mut i = start + 1;
        let mut seg = i;
        loop {
            match self.peek_at(i) {
                None => return Err(self.err(start, ParseErrorKind::UnterminatedString)),
                Some(b'\'') => {
                    out.push_str(&self.text[seg..i]);
                    if self.peek_at(i + 1) == Some(b'\'') {
                        out.push('\'');
                        i += 2;
                        seg = i;
                    } else {
                        self.pos = i + 1;
                        return Ok(Tok::Str(out));
                    }
                }
                Some(_) => i += 1,
            }
        }
    }

    /// A GUID at `start`, if the next 36 bytes are one and no identifier character follows.
    fn guid(&mut self, start: usize) -> Option<Tok> {
        let end = start + 36;
        let bytes = self.src.get(start..end)?;
        for (i, &c) in bytes.iter().enumerate() {
            let ok = if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            };
            if !ok {
                return None;
            }
        }
        if self.peek_at(end).is_some_and(|c| is_ident_char(c) || c == b'-') {
            return None;
        }
        let g = Uuid::parse_str(&self.text[start..end]).ok()?;
        self.pos = end;
        Some(Tok::Guid(g))
    }

    fn digits(&self, from: usize, n: usize) -> bool {
        (from..from + n).all(|i| self.peek_at(i).is_some_and(|c| c.is_ascii_digit()))
    }

    /// A date or date-time at `start` (`YYYY-MM-DD...`), `None` when the text is not shaped
    /// like one, an error when it is shaped like one but is not a valid one.
    fn date(&mut self, start: usize) -> Result<Option<Tok>, ParseError> {
        if !(self.digits(start, 4)
            && self.peek_at(start + 4) == Some(b'-')
            && self.digits(start + 5, 2)
            && self.peek_at(start + 7) == Some(b'-')
            && self.digits(start + 8, 2))
        {
            return Ok(None);
        }
        let mut end = start + 10;
        if self.peek_at(end) != Some(b'T') {
            if self.peek_at(end).is_some_and(is_ident_char) {
                return Err(self.err(start, ParseErrorKind::BadLiteral(self.word(start))));
            }
            let d = NaiveDate::parse_from_str(&self.text[start..end], "%Y-%m-%d").map_err(|_| {
                self.err(
                    start,
                    ParseErrorKind::BadLiteral(self.text[start..end].to_owned()),
                )
            })?;
            self.pos = end;
            return Ok(Some(Tok::Date(d)));
        }
        // Date-time: find the end (digits, ':', '.', 'T', 'Z', '+', '-').
        end += 1;
        while self
            .peek_at(end)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b':' | b'.' | b'Z' | b'z' | b'+' | b'-'))
        {
            end += 1;
        }
        let raw = &self.text[start..end];
        let bad = || self.err(start, ParseErrorKind::BadLiteral(raw.to_owned()));
        if self.peek_at(end).is_some_and(is_ident_char) {
            return Err(bad());
        }
        // Seconds may be left out (`2024-01-01T10:00Z`): read as `:00`.
        let parsed = DateTime::parse_from_rfc3339(raw)
            .or_else(|e| match raw.get(16..17) {
                Some("Z" | "z" | "+" | "-") => {
                    DateTime::parse_from_rfc3339(&format!("{}:00{}", &raw[..16], &raw[16..]))
                }
                _ => Err(e),
            })
            .map_err(|_| bad())?;
        self.pos = end;
        Ok(Some(Tok::DateTime(parsed.with_timezone(&Utc))))
    }

    /// The run of identifier characters, digits, '-' and '.' at `from` (for error messages).
    fn word(&self, from: usize) -> String {
        let mut i = from;
        while self
            .peek_at(i)
            .is_some_and(|c| is_ident_char(c) || c == b'-' || c == b'.')
        {
            i += 1;
        }
        self.text[from..i].to_owned()
    }

    fn number(&mut self, start: usize) -> Result<Tok, ParseError> {
        let mut i = start;
        if self.peek_at(i) == Some(b'-') {
            i += 1;
        }
        while self.peek_at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        let mut decimal = false;
        if self.peek_at(i) == Some(b'.') {
            decimal = true;
            i += 1;
            let from = i;
            while self.peek_at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
            if i == from {
                return Err(self.err(start, ParseErrorKind::BadLiteral(self.word(start))));
            }
        }
        if matches!(self.peek_at(i), Some(b'e' | b'E')) {
            decimal = true;
            i += 1;
            if matches!(self.peek_at(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let from = i;
            while self.peek_at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
            if i == from {
                return Err(self.err(start, ParseErrorKind::BadLiteral(self.word(start))));
            }
        }
        if self.peek_at(i).is_some_and(|c| is_ident_char(c) || c == b'-') {
            return Err(self.err(start, ParseErrorKind::BadLiteral(self.word(start))));
        }
        let raw = &self.text[start..i];
        let bad = || self.err(start, ParseErrorKind::BadLiteral(raw.to_owned()));
        let tok = if decimal {
            let v: f64 = raw.parse().map_err(|_| bad())?;
            if !v.is_finite() {
                return Err(bad());
            }
            Tok::Decimal(v)
        } else {
            Tok::Int(raw.parse().map_err(|_| bad())?)
        };
        self.pos = i;
        Ok(tok)
    }
}
