use serde::{Deserialize, Serialize};

/// Sigma's logsource triple. Each part is optional; a rule constrains only the parts it
/// names. Values are compared case-insensitively, so they are stored lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogSource {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
}

impl LogSource {
    /// From the command-line / config form `product[/category[/service]]`; empty parts
    /// and `*` mean "any".
    pub fn from_path(path: &str) -> Self {
        let mut parts = path.split('/').map(|p| Some(p).filter(|p| !p.is_empty() && *p != "*"));
        LogSource::new(parts.next().flatten(), parts.next().flatten(), parts.next().flatten())
    }

    pub fn new(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> Self {
        let norm = |s: Option<&str>| s.map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty());
        LogSource { product: norm(product), category: norm(category), service: norm(service) }
    }

    pub fn is_empty(&self) -> bool {
        self.product.is_none() && self.category.is_none() && self.service.is_none()
    }

    /// True when every part `self` names is equal in `other` (a rule's logsource
    /// `self` covering an event's logsource `other`).
    pub fn covers(&self, other: &LogSource) -> bool {
        fn part(want: &Option<String>, have: &Option<String>) -> bool {
            match want {
                None => true,
                Some(w) => have.as_deref() == Some(w.as_str()),
            }
        }
        part(&self.product, &other.product)
            && part(&self.category, &other.category)
            && part(&self.service, &other.service)
    }
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = |s: &Option<String>| s.clone().unwrap_or_else(|| "*".into());
        write!(f, "{}/{}/{}", p(&self.product), p(&self.category), p(&self.service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_compares_only_named_parts() {
        let rule = LogSource::new(Some("Linux"), Some("process_creation"), None);
        let event = LogSource::new(Some("linux"), Some("process_creation"), Some("auditd"));
        assert!(rule.covers(&event));
        assert!(!event.covers(&rule));
        assert!(LogSource::default().covers(&event));
        assert!(!LogSource::new(Some("windows"), None, None).covers(&event));
    }
}
