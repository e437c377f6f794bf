//! Syslog lines — RFC 3164 (`Mmm dd hh:mm:ss host prog[pid]: msg`, optionally with a
//! `<PRI>`, or with rsyslog's RFC 3339 file timestamp) and RFC 5424 — read with
//! auth.log / secure semantics: sshd logons, PAM, sudo, su and account tools become
//! OCSF Authentication, Process Activity, Account Change and Network Activity events;
//! any other line is a Base event carrying its message.
//!
//! RFC 3164 timestamps have no year and no zone. The decoder takes them as UTC in a
//! reference year: the current year (or the year before, when that would put the first
//! line more than two days in the future), or the year given to
//! [`SyslogDecoder::with_year`]. When the month goes back by six or more (Dec → Jan) the
//! year rolls forward; a line whose month jumps ahead by six or more (a late Dec line
//! after Jan) is put in the year before, without moving the reference.
//!
//! See `docs/sources/syslog.md` for the field mapping.

mod auth;
mod header;

use chrono::{Datelike, NaiveDate, Utc};
use serde_json::{Map, Value};
use vigil_event::{LogSource, Timestamp};

use crate::doc::Doc;
use crate::ocsf::{self, Class};
use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, RawRecord, SourceKind};

use auth::Semantics;
use header::{Header, Stamp};

/// Longest line decoded; syslog transports cap messages far below this (rsyslog 8 KiB
/// by default), so anything longer is not a log line.
const MAX_LINE: usize = 256 * 1024;

/// Whether `record` starts like a syslog line: a `<PRI>`, an RFC 3164 timestamp, or an
/// RFC 3339 timestamp (rsyslog file format).
pub(crate) fn looks_like(record: &str) -> bool {
    let b = record.as_bytes();
    if b.first() == Some(&b'<') {
        let digits = b.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
        return (1..=3).contains(&digits) && b.get(digits + 1) == Some(&b'>');
    }
    header::bsd_stamp(record).is_some() || (header::starts_iso(record) && record.contains(' '))
}

/// Decodes syslog lines; keeps the reference year of RFC 3164 timestamps.
#[derive(Debug, Default)]
pub struct SyslogDecoder {
    /// Reference year for year-less timestamps; decided at the first such line unless
    /// given.
    year: Option<i32>,
    /// Month of the last year-less line, to notice the year turning.
    last_month: Option<u32>,
}

impl SyslogDecoder {
    /// A decoder that puts year-less (RFC 3164) timestamps in `year` (replaying old
    /// logs, tests).
    // Public API for `vigil hunt --year`; the crate itself only uses it in tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn with_year(year: i32) -> Self {
        SyslogDecoder { year: Some(year), last_month: None }
    }

    fn resolve(&mut self, stamp: Stamp) -> Option<Timestamp> {
        let Stamp::YearLess { month, day, hour, minute, second, nanos } = stamp else {
            return match stamp {
                Stamp::Absolute(t) => Some(t),
                _ => None,
            };
        };
        let at = |year: i32| {
            NaiveDate::from_ymd_opt(year, month, day)
                .and_then(|d| d.and_hms_nano_opt(hour, minute, second.min(59), nanos))
                .map(|t| t.and_utc())
        };
        let year = match self.year {
            Some(y) => y,
            None => {
                let now = Utc::now();
                let mut y = now.year();
                if at(y).is_some_and(|t| t > now + chrono::Duration::days(2)) {
                    y = y.saturating_sub(1);
                }
                self.year = Some(y);
                y
            }
        };
        let line_year = match self.last_month {
            Some(last) if last >= month + 6 => {
                self.year = Some(year.saturating_add(1));
                self.last_month = Some(month);
                year.saturating_add(1)
            }
            Some(last) if month >= last + 6 => year.saturating_sub(1),
            _ => {
                self.last_month = Some(month);
                year
            }
        };
        // Feb 29 in a year that has none: the year guess is wrong, the time unknown.
        at(line_year)
    }
}

impl Decoder for SyslogDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::Syslog
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        if record.len() > MAX_LINE {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("syslog line of {} bytes exceeds {MAX_LINE}", record.len()),
            ));
        }
        let line = record.trim_matches(|c: char| c == '\r' || c == '\n' || c == '\u{feff}');
        if line.trim().is_empty() {
            return Err(DecodeError::new(DeadLetterReason::Malformed, "empty syslog line"));
        }
        let header = header::parse(line)?;
        let time = self.resolve(header.stamp);
        let semantics = auth::classify(header.app, header.msg);
        out.push(build(line, &header, time, &semantics));
        Ok(())
    }
}

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];
const SEVERITIES: [&str; 8] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/// Syslog severity → OCSF `severity_id` (emerg Fatal … warning Medium, notice Low,
/// info / debug Informational).
fn ocsf_severity(severity: u8) -> u8 {
    match severity {
        0 => 6,
        1 | 2 => 5,
        3 => 4,
        4 => 3,
        5 => 2,
        _ => 1,
    }
}

fn user_object(name: Option<&str>, uid: Option<&str>) -> Option<Value> {
    if name.is_none() && uid.is_none() {
        return None;
    }
    let mut m = Map::new();
    if let Some(n) = name {
        m.insert("name".into(), n.into());
    }
    if let Some(u) = uid {
        m.insert("uid".into(), u.into());
    }
    Some(Value::Object(m))
}

fn build(line: &str, h: &Header<'_>, time: Option<Timestamp>, s: &Semantics<'_>) -> Normalized {
    let program = h.app.map(|a| auth::split_program(a).0);
    let service = auth::service(h.app, h.msg);
    let class = s.class.unwrap_or(Class::Base);
    let activity = if class == Class::Base { 0 } else { s.activity };
    let mut e = ocsf::base(class, activity, time, program.unwrap_or("syslog"));
    let pid: Option<u64> = h.procid.and_then(|p| p.parse().ok());
    if let Some(pri) = h.pri {
        ocsf::set_severity(&mut e, ocsf_severity(pri % 8));
    }
    ocsf::set(&mut e, "message", h.msg);
    if let Some(host) = h.host {
        ocsf::set(&mut e, "device.hostname", host);
    }
    if let Some(p) = h.app {
        ocsf::set(&mut e, "metadata.log_provider", p);
    }
    if let Some(success) = s.success {
        ocsf::set_status(&mut e, success);
    }
    if let Some(detail) = s.status_detail {
        ocsf::set(&mut e, "status_detail", detail);
    }
    let src = (s.src_ip.is_some() || s.src_port.is_some() || s.src_host.is_some())
        .then(|| ocsf::endpoint(s.src_ip, s.src_port.map(u64::from), s.src_host));
    let user = user_object(s.user, s.user_uid);
    let actor = user_object(s.actor, s.actor_uid);
    let mut unmapped = Map::new();
    match class {
        Class::Authentication => {
            set_opt(&mut e, "user", user);
            set_opt(&mut e, "actor.user", actor);
            set_opt(&mut e, "src_endpoint", src);
            if let Some(host) = h.host {
                ocsf::set(&mut e, "dst_endpoint.hostname", host);
            }
            if let Some(proto) = s.auth_protocol {
                ocsf::set(&mut e, "auth_protocol", proto);
                ocsf::set(&mut e, "auth_protocol_id", 99);
            }
            if service == "sshd" {
                ocsf::set(&mut e, "is_remote", true);
                ocsf::set(&mut e, "logon_type_id", 10);
                ocsf::set(&mut e, "logon_type", "Remote Interactive");
            } else if service == "su" || service == "sudo" {
                ocsf::set(&mut e, "is_remote", false);
            } else if s.remote {
                ocsf::set(&mut e, "is_remote", true);
            }
            if let Some(svc) = s.service {
                ocsf::set(&mut e, "service.name", svc);
            }
        }
        Class::ProcessActivity => {
            let image = s.command.and_then(image_of);
            let process =
                ocsf::Process { path: image, cmd_line: s.command, cwd: s.cwd, user_name: s.user, ..Default::default() };
            ocsf::set(&mut e, "process", process.to_value());
            set_opt(&mut e, "actor.user", actor);
            let launcher = ocsf::Process { pid, ..Default::default() };
            let mut launcher = launcher.to_value();
            if let (Some(name), Value::Object(m)) = (program, &mut launcher) {
                m.insert("name".into(), name.into());
            }
            ocsf::set(&mut e, "actor.process", launcher);
        }
        Class::AccountChange => {
            set_opt(&mut e, "user", user);
            set_opt(&mut e, "actor.user", actor);
        }
        Class::NetworkActivity => {
            set_opt(&mut e, "src_endpoint", src);
            if let Some(host) = h.host {
                ocsf::set(&mut e, "dst_endpoint.hostname", host);
            }
            set_opt(&mut e, "actor.user", user.or(actor));
        }
        _ => {
            if let Some(src) = src {
                unmapped.insert("src_endpoint".into(), src);
            }
            if let Some(u) = s.user.or(s.sigma_user) {
                unmapped.insert("user".into(), u.into());
            }
        }
    }
    for (k, v) in &s.unmapped {
        if !v.is_null() {
            unmapped.insert((*k).to_owned(), v.clone());
        }
    }
    if let Some(tty) = s.tty {
        unmapped.insert("tty".into(), tty.into());
    }
    if let Some(count) = s.count {
        unmapped.insert("count".into(), count.into());
    }
    let mut syslog = Map::new();
    if let Some(pri) = h.pri {
        if let Some(f) = FACILITIES.get(usize::from(pri / 8)) {
            syslog.insert("facility".into(), (*f).into());
        }
        syslog.insert("severity".into(), SEVERITIES[usize::from(pri % 8)].into());
    }
    if let Some(p) = h.procid {
        syslog.insert("procid".into(), p.into());
    }
    if let Some(m) = h.msgid {
        syslog.insert("msgid".into(), m.into());
    }
    if let Some(sd) = &h.sd {
        syslog.insert("structured_data".into(), Value::Object(sd.clone()));
    }
    if !syslog.is_empty() {
        unmapped.insert("syslog".into(), Value::Object(syslog));
    }
    if !unmapped.is_empty() {
        e.insert("unmapped", Value::Object(unmapped));
    }

    let mut sigma = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            sigma.insert(k.to_owned(), v);
        }
    };
    put("User", s.sigma_user.map(Value::from));
    put("TargetUser", s.sigma_target.map(Value::from));
    put("SourceIp", s.src_ip.map(Value::from));
    put("SourcePort", s.src_port.map(Value::from));
    if class == Class::ProcessActivity {
        put("Image", s.command.and_then(image_of).map(Value::from));
        put("CommandLine", s.command.map(Value::from));
        put("CurrentDirectory", s.cwd.map(Value::from));
    }
    put("host", h.host.map(Value::from));
    put("program", h.app.map(Value::from));
    put("pid", pid.map(Value::from).or_else(|| h.procid.map(Value::from)));
    put("facility", h.pri.and_then(|p| FACILITIES.get(usize::from(p / 8))).map(|f| Value::from(*f)));
    put("severity", h.pri.map(|p| Value::from(SEVERITIES[usize::from(p % 8)])));
    put("msgid", h.msgid.map(Value::from));
    put("sd", h.sd.clone().map(Value::Object));
    put("message", Some(h.msg.into()));

    Normalized {
        source: SourceKind::Syslog,
        time,
        logsource: LogSource::new(Some("linux"), None, Some(service)),
        ocsf: e,
        sigma: sigma.into(),
        raw: RawRecord::Text(line.to_owned()),
    }
}

fn set_opt(e: &mut Doc, path: &'static str, value: Option<Value>) {
    e.set(path, value);
}

/// The executable of a command line, when it is written as an absolute path.
fn image_of(command: &str) -> Option<&str> {
    let first = command.split_ascii_whitespace().next()?;
    first.starts_with('/').then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(d: &mut SyslogDecoder, line: &str) -> Normalized {
        let mut out = Vec::new();
        d.decode(line, &mut out).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(out.len(), 1);
        out.pop().unwrap()
    }

    #[test]
    fn sniff() {
        assert!(looks_like("Feb 21 21:54:44 localhost sshd[3402]: Accepted"));
        assert!(looks_like("Jun  9 01:02:03 h p: m"));
        assert!(looks_like("<34>Oct 11 22:14:15 mymachine su: 'su root' failed"));
        assert!(looks_like("<165>1 2003-10-11T22:14:15.003Z host app - - - msg"));
        assert!(looks_like("2024-01-02T03:04:05.123456+00:00 host prog[1]: msg"));
        assert!(!looks_like("type=SYSCALL msg=audit(1.2:3): x=y"));
        assert!(!looks_like("hello"));
        assert!(!looks_like("<>"));
    }

    #[test]
    fn year_is_given_rolled_and_kept_for_stragglers() {
        let mut d = SyslogDecoder::with_year(2015);
        let t = |n: &Normalized| n.time.unwrap().to_rfc3339();
        assert_eq!(t(&one(&mut d, "Dec 31 23:59:59 h p: a")), "2015-12-31T23:59:59+00:00");
        assert_eq!(t(&one(&mut d, "Jan  1 00:00:01 h p: b")), "2016-01-01T00:00:01+00:00");
        // A late December line after the turn belongs to the year before.
        assert_eq!(t(&one(&mut d, "Dec 31 23:59:59 h p: c")), "2015-12-31T23:59:59+00:00");
        assert_eq!(t(&one(&mut d, "Feb  2 10:00:00 h p: d")), "2016-02-02T10:00:00+00:00");
    }

    #[test]
    fn default_year_is_not_in_the_future() {
        let mut d = SyslogDecoder::default();
        let now = Utc::now();
        let n = one(&mut d, &format!("{} 12:00:00 h p: x", (now + chrono::Duration::days(20)).format("%b %e")));
        assert!(n.time.unwrap() <= now + chrono::Duration::days(2));
    }

    #[test]
    fn pri_sets_facility_and_severity() {
        let mut d = SyslogDecoder::with_year(2020);
        let n = one(
            &mut d,
            "<38>Feb 21 21:54:44 localhost sshd[3402]: Accepted password for bob from 10.0.0.1 port 2 ssh2",
        );
        assert_eq!(n.sigma["facility"], "auth");
        assert_eq!(n.sigma["severity"], "info");
        assert_eq!(n.sigma["pid"], 3402);
        assert_eq!(n.ocsf["severity_id"], 1);
        assert_eq!(n.logsource, LogSource::new(Some("linux"), None, Some("sshd")));
        let n = one(&mut d, "<131>Feb 21 21:54:44 localhost kernel: oops");
        assert_eq!((n.sigma["facility"].as_str(), n.sigma["severity"].as_str()), (Some("local0"), Some("err")));
        assert_eq!(n.ocsf["severity_id"], 4);
    }

    #[test]
    fn sudo_builds_process_launch() {
        let mut d = SyslogDecoder::with_year(2020);
        let n = one(&mut d, "Feb 23 00:08:48 localhost sudo: vagrant : TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/cat /var/log/secure");
        assert_eq!(n.ocsf["type_uid"], 100701);
        assert_eq!(n.ocsf["process"]["cmd_line"], "/bin/cat /var/log/secure");
        assert_eq!(n.ocsf["process"]["user"]["name"], "root");
        assert_eq!(n.ocsf["actor"]["user"]["name"], "vagrant");
        assert_eq!(n.sigma["Image"], "/bin/cat");
        assert_eq!(n.sigma["User"], "vagrant");
        assert_eq!(n.sigma["TargetUser"], "root");
        assert_eq!(n.sigma["CurrentDirectory"], "/home/vagrant");
    }

    #[test]
    fn bad_lines_are_dead_letters() {
        let mut d = SyslogDecoder::default();
        let mut out = Vec::new();
        assert_eq!(d.decode("", &mut out).unwrap_err().reason, DeadLetterReason::Malformed);
        assert_eq!(d.decode("garbage", &mut out).unwrap_err().reason, DeadLetterReason::Malformed);
        assert_eq!(
            d.decode("<200>Jan  1 00:00:00 h p: m", &mut out).unwrap_err().reason,
            DeadLetterReason::InvalidField
        );
        let long = format!("Jan  1 00:00:00 h p: {}", "x".repeat(MAX_LINE));
        assert_eq!(d.decode(&long, &mut out).unwrap_err().reason, DeadLetterReason::TooLarge);
        assert!(out.is_empty());
    }
}
