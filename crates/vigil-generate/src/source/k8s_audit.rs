//! Kubernetes API server audit events (`audit.k8s.io/v1` `Event`), one JSON line each,
//! as the log backend writes them.

use crate::clock;
use crate::json::Obj;

/// The parts of an audit event that vary.
pub(crate) struct AuditEvent<'a> {
    pub level: &'static str,
    pub stage: &'static str,
    pub request_uri: String,
    pub verb: &'static str,
    pub username: &'a str,
    pub groups: &'a [&'a str],
    pub source_ip: &'a str,
    pub user_agent: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
    pub api_group: &'a str,
    pub api_version: &'a str,
    pub code: i64,
    /// The request body (JSON text) at level Request and above.
    pub request_object: Option<String>,
    pub reason: String,
}

impl AuditEvent<'_> {
    pub(crate) fn line(&self, audit_id: &str, ms: i64, sub_ns: u32, latency_ms: i64) -> String {
        let mut object_ref = Obj::new().str("resource", self.resource);
        object_ref = object_ref.opt_str("namespace", self.namespace).opt_str("name", self.name);
        if !self.api_group.is_empty() {
            object_ref = object_ref.str("apiGroup", self.api_group);
        }
        object_ref = object_ref.str("apiVersion", self.api_version).opt_str("subresource", self.subresource);
        let mut o = Obj::new()
            .str("kind", "Event")
            .str("apiVersion", "audit.k8s.io/v1")
            .str("level", self.level)
            .str("auditID", audit_id)
            .str("stage", self.stage)
            .str("requestURI", &self.request_uri)
            .str("verb", self.verb)
            .obj("user", Obj::new().str("username", self.username).strs("groups", self.groups))
            .strs("sourceIPs", &[self.source_ip])
            .str("userAgent", self.user_agent)
            .obj("objectRef", object_ref)
            .obj("responseStatus", Obj::new().obj("metadata", Obj::new()).num("code", self.code));
        if let Some(body) = &self.request_object {
            o = o.raw("requestObject", body);
        }
        let decision = if self.code == 403 { "forbid" } else { "allow" };
        o.str("requestReceivedTimestamp", &clock::rfc3339_micros(ms, sub_ns))
            .str("stageTimestamp", &clock::rfc3339_micros(ms + latency_ms, sub_ns))
            .obj(
                "annotations",
                Obj::new()
                    .str("authorization.k8s.io/decision", decision)
                    .str("authorization.k8s.io/reason", &self.reason),
            )
            .finish()
    }
}
