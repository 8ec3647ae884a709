//! Errors of the OData layer and the Graph error they become.
//!
//! A [`ParseError`] carries the byte position (from the start of the option's value) where the
//! text stopped making sense. A [`QueryError`] is anything the layer refuses: syntax, limits,
//! unknown properties, operators a property does not support, and operators that need advanced
//! query mode. [`QueryError::graph`] maps each to the status, code and message Graph uses on a
//! given [`Surface`] (spec §4.1, §4.5, §1.3 error table).

use std::fmt;

/// The system query option a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryOption {
    Filter,
    Select,
    Expand,
    OrderBy,
    Top,
    Count,
    Search,
    Apply,
}

impl QueryOption {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Filter => "$filter",
            Self::Select => "$select",
            Self::Expand => "$expand",
            Self::OrderBy => "$orderby",
            Self::Top => "$top",
            Self::Count => "$count",
            Self::Search => "$search",
            Self::Apply => "$apply",
        }
    }
}

/// What went wrong while reading an option's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// A token that does not fit here; `expected` says what would have.
    Unexpected {
        found: String,
        expected: &'static str,
    },
    UnterminatedString,
    /// The NUL character, anywhere (no backend can compare or store it; `allot_core::text`).
    Nul,
    /// A literal that looks like a number, GUID or date but is not a valid one.
    BadLiteral(String),
    UnknownFunction(String),
    /// A character that starts no token.
    BadCharacter(char),
    Empty,
    TooLong {
        max: usize,
    },
    TooDeep {
        max: usize,
    },
    TooManyNodes {
        max: usize,
    },
    InListTooLong {
        max: usize,
    },
    TooManyItems {
        max: usize,
    },
}

/// A syntax or limit error at byte `pos` of the option's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub option: QueryOption,
    pub pos: usize,
    pub kind: ParseErrorKind,
}

impl ParseError {
    pub(crate) const fn new(option: QueryOption, pos: usize, kind: ParseErrorKind) -> Self {
        Self { option, pos, kind }
    }

    /// Whether this is one of the safety limits (length, depth, node count, list length).
    #[must_use]
    pub const fn is_limit(&self) -> bool {
        matches!(
            self.kind,
            ParseErrorKind::TooLong { .. }
                | ParseErrorKind::TooDeep { .. }
                | ParseErrorKind::TooManyNodes { .. }
                | ParseErrorKind::InListTooLong { .. }
                | ParseErrorKind::TooManyItems { .. }
        )
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unexpected { found, expected } => write!(f, "found {found}, expected {expected}"),
            Self::UnterminatedString => f.write_str("unterminated string literal"),
            Self::Nul => f.write_str("the NUL character is not allowed"),
            Self::BadLiteral(s) => write!(f, "invalid literal '{s}'"),
            Self::UnknownFunction(s) => write!(f, "unknown function '{s}'"),
            Self::BadCharacter(c) => write!(f, "character '{c}' is not valid"),
            Self::Empty => f.write_str("the expression is empty"),
            Self::TooLong { max } => write!(f, "the expression is longer than {max} bytes"),
            Self::TooDeep { max } => write!(f, "the expression is nested deeper than {max} levels"),
            Self::TooManyNodes { max } => write!(f, "the expression has more than {max} nodes"),
            Self::InListTooLong { max } => write!(f, "an 'in' list has more than {max} values"),
            Self::TooManyItems { max } => write!(f, "more than {max} items"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Syntax error in {} at position {}: {}.",
            self.option.name(),
            self.pos,
            self.kind
        )
    }
}

impl std::error::Error for ParseError {}

/// Everything the layer refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Parse(ParseError),
    /// A name that is not a property of the entity (or of the lambda's element type).
    UnknownProperty {
        option: QueryOption,
        type_name: &'static str,
        name: String,
    },
    /// The property exists but cannot be used this way in `$filter` (or `$orderby`).
    UnsupportedFilter {
        property: String,
        resource: &'static str,
    },
    /// An operator the property supports only in advanced query mode, without it.
    NeedsAdvanced {
        operator: String,
    },
    /// A comparison between a property and a literal of another type.
    IncompatibleTypes {
        left: &'static str,
        right: &'static str,
        operator: &'static str,
    },
    /// `$search` without `ConsistencyLevel: eventual`.
    SearchNeedsEventual,
    /// `$orderby` on a property or in a combination that cannot be sorted.
    SortingNotSupported,
    /// A query option the resource does not accept at all.
    OptionNotSupported {
        option: QueryOption,
    },
    /// A navigation property `$expand` does not know.
    UnknownExpansion {
        name: String,
        type_name: &'static str,
    },
    /// A value of `$top` or `$count` that is not acceptable.
    InvalidValue {
        option: QueryOption,
        value: String,
    },
    /// Anything else Graph answers with `Request_UnsupportedQuery`.
    Unsupported(String),
}

impl From<ParseError> for QueryError {
    fn from(e: ParseError) -> Self {
        Self::Parse(e)
    }
}

/// The API family an error is rendered for: the directory (v1.0 and beta users, groups, ...) uses
/// Entra's `Request_*` codes; the beta `cloudLicensing` namespace uses camelCase codes with an
/// inner code (spec §1.3 error table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Directory,
    CloudLicensing,
}

/// The parts of a Graph error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphErrorInfo {
    pub status: u16,
    pub code: &'static str,
    /// The code of the first `innerError` (cloudLicensing only).
    pub inner_code: Option<&'static str>,
    pub message: String,
}

/// Entra's wording for operators that need advanced query mode (aad-advanced-queries.md,
/// "Error handling for advanced queries").
const ADVANCED_HINT: &str = "is not supported because the required parameters might be missing. Try adding \
     $count=true query parameter and ConsistencyLevel:eventual header. Refer to \
     https://aka.ms/graph-docs/advanced-queries for more information";

impl QueryError {
    /// The error Graph answers with on `surface`.
    #[must_use]
    pub fn graph(&self, surface: Surface) -> GraphErrorInfo {
        match surface {
            Surface::Directory => self.directory(),
            Surface::CloudLicensing => self.cloud_licensing(),
        }
    }

    fn directory(&self) -> GraphErrorInfo {
        let (code, message) = match self {
            Self::Parse(e) => match e.option {
                QueryOption::Filter => ("Request_BadRequest", format!("Invalid filter clause: {e}")),
                _ => ("Request_BadRequest", e.to_string()),
            },
            Self::UnknownProperty { type_name, name, .. } => (
                "Request_BadRequest",
                format!("Could not find a property named '{name}' on type '{type_name}'."),
            ),
            Self::UnsupportedFilter { property, resource } => (
                "Request_UnsupportedQuery",
                format!(
                    "Unsupported or invalid query filter clause specified for property '{property}' of resource '{resource}'."
                ),
            ),
            Self::NeedsAdvanced { operator } => {
                ("Request_UnsupportedQuery", format!("Operator '{operator}' {ADVANCED_HINT}"))
            }
            Self::IncompatibleTypes { left, right, operator } => (
                "Request_BadRequest",
                format!(
                    "A binary operator with incompatible types was detected. Found operand types '{left}' and '{right}' for operator kind '{operator}'."
                ),
            ),
            Self::SearchNeedsEventual => (
                "Request_UnsupportedQuery",
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'".to_owned(),
            ),
            Self::SortingNotSupported => {
                ("Request_UnsupportedQuery", "Sorting not supported for current query.".to_owned())
            }
            Self::OptionNotSupported { option } => (
                "Request_UnsupportedQuery",
                format!("The query option '{}' is not supported on this resource.", option.name()),
            ),
            Self::UnknownExpansion { name, type_name } => (
                "Request_BadRequest",
                format!(
                    "Parsing OData Select and Expand failed: Could not find a property named '{name}' on type '{type_name}'."
                ),
            ),
            Self::InvalidValue { option, value } => (
                "Request_BadRequest",
                format!("Invalid value '{value}' for query option '{}'.", option.name()),
            ),
            Self::Unsupported(m) => ("Request_UnsupportedQuery", m.clone()),
        };
        GraphErrorInfo {
            status: 400,
            code,
            inner_code: None,
            message,
        }
    }

    fn cloud_licensing(&self) -> GraphErrorInfo {
        let inner = match self {
            Self::Parse(e) => match e.option {
                QueryOption::Filter => "invalidFilter",
                QueryOption::Expand => "invalidExpansion",
                _ => "invalidQuery",
            },
            Self::UnknownProperty { option, .. } => match option {
                QueryOption::Filter => "invalidFilter",
                QueryOption::Expand => "invalidExpansion",
                _ => "invalidQuery",
            },
            Self::UnsupportedFilter { .. } | Self::NeedsAdvanced { .. } | Self::IncompatibleTypes { .. } => {
                "invalidFilter"
            }
            Self::UnknownExpansion { .. } => "invalidExpansion",
            Self::SearchNeedsEventual
            | Self::SortingNotSupported
            | Self::OptionNotSupported { .. }
            | Self::InvalidValue { .. }
            | Self::Unsupported(_) => "invalidQuery",
        };
        GraphErrorInfo {
            status: 400,
            code: "badRequest",
            inner_code: Some(inner),
            message: "Cannot process the request because it is malformed or incorrect.".to_owned(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.directory().message)
    }
}

impl std::error::Error for QueryError {}
