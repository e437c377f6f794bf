//! What an auth.log / secure line means: sshd logons and disconnects, PAM results,
//! sudo commands, su, and the shadow-utils account tools (useradd, usermod, passwd…).
//!
//! Message shapes follow the programs' own log calls (OpenSSH `auth.c` / `sshd.c`,
//! Linux-PAM `pam_unix`, sudo's `log_allowed` / `log_denial`, shadow-utils and
//! util-linux `su`), as seen in the corpus samples. A line that matches no shape is a
//! plain message (`Class::Base`), never an error.

use std::net::IpAddr;

use serde_json::Value;

use crate::ocsf::{activity, Class};

/// The Sigma `service` a program's lines belong to (SigmaHQ linux rules use `sshd`,
/// `cron`, `sudo`, `su`, `auth` and `syslog`).
pub(crate) fn service(program: Option<&str>, msg: &str) -> &'static str {
    let Some(program) = program else { return "syslog" };
    let (base, pam_module) = split_program(program);
    let is = |name: &str| base.eq_ignore_ascii_case(name);
    if is("sshd") || is("sshd-session") || is("sshd-auth") {
        "sshd"
    } else if is("cron") || is("crond") || is("anacron") {
        "cron"
    } else if is("sudo") {
        "sudo"
    } else if is("su") {
        "su"
    } else if pam_module.is_some()
        || msg.starts_with("pam_")
        || AUTH_PROGRAMS.iter().any(|p| base.eq_ignore_ascii_case(p))
        || base.starts_with("gdm")
    {
        "auth"
    } else {
        "syslog"
    }
}

/// Programs whose lines are about accounts and logons.
const AUTH_PROGRAMS: &[&str] = &[
    "useradd",
    "usermod",
    "userdel",
    "groupadd",
    "groupmod",
    "groupdel",
    "passwd",
    "chpasswd",
    "chage",
    "chfn",
    "chsh",
    "gpasswd",
    "newusers",
    "login",
    "systemd-logind",
    "polkitd",
    "pkexec",
    "unix_chkpwd",
    "lightdm",
    "sddm",
    "doas",
    "runuser",
    "klogind",
];

/// Shadow-utils and passwd tools.
const ACCOUNT_PROGRAMS: &[&str] = &[
    "useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "passwd", "chpasswd", "chage", "chfn", "chsh",
    "gpasswd", "newusers",
];

/// `sshd(pam_unix)` (RedHat's old PAM tag) → (`sshd`, `Some("pam_unix")`).
pub(crate) fn split_program(program: &str) -> (&str, Option<&str>) {
    match program.split_once('(') {
        Some((base, rest)) => (base, rest.strip_suffix(')')),
        None => (program, None),
    }
}

/// The meaning of one message, in terms the OCSF and Sigma views are built from.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Semantics<'a> {
    pub class: Option<Class>,
    pub activity: u8,
    /// `Some(true)` success, `Some(false)` failure.
    pub success: Option<bool>,
    pub status_detail: Option<&'a str>,
    /// OCSF `user`: the account that logged on / was changed / runs the command.
    pub user: Option<&'a str>,
    pub user_uid: Option<&'a str>,
    /// OCSF `actor.user`: who acted (sudo's invoking user, su's caller).
    pub actor: Option<&'a str>,
    pub actor_uid: Option<&'a str>,
    /// Sigma `User` and `TargetUser`.
    pub sigma_user: Option<&'a str>,
    pub sigma_target: Option<&'a str>,
    pub src_ip: Option<&'a str>,
    pub src_port: Option<u16>,
    pub src_host: Option<&'a str>,
    pub auth_protocol: Option<&'a str>,
    /// sshd: the logon came over the network.
    pub remote: bool,
    /// The PAM service (`sshd`, `sudo`, `su`, `cron`) or the program.
    pub service: Option<&'a str>,
    pub command: Option<&'a str>,
    pub cwd: Option<&'a str>,
    pub tty: Option<&'a str>,
    /// `message repeated N times` / `PAM N more authentication failures`.
    pub count: Option<u64>,
    /// Facts with no OCSF attribute: (name, value) under `unmapped`.
    pub unmapped: Vec<(&'static str, Value)>,
}

impl<'a> Semantics<'a> {
    fn of(class: Class, activity: u8, success: Option<bool>) -> Self {
        Semantics { class: Some(class), activity, success, ..Default::default() }
    }

    fn logon(success: bool) -> Self {
        Self::of(Class::Authentication, activity::AUTH_LOGON, Some(success))
    }

    fn with_source(mut self, ip: Option<&'a str>, port: Option<u16>) -> Self {
        self.src_ip = ip;
        self.src_port = port;
        self
    }
}

/// Classifies `msg` logged by `program`.
pub(crate) fn classify<'a>(program: Option<&'a str>, msg: &'a str) -> Semantics<'a> {
    // `message repeated 3 times: [ Failed password for root from … ]` (rsyslog's
    // reduction of repeated messages): the inner message, counted.
    if let Some(rest) = msg.strip_prefix("message repeated ") {
        if let Some((n, inner)) = rest.split_once(" times: [") {
            if let Ok(n) = n.parse::<u64>() {
                let inner = inner.strip_suffix(']').unwrap_or(inner).trim();
                let mut s = classify_once(program, inner);
                s.count = Some(n);
                return s;
            }
        }
    }
    if let Some(n) = msg.strip_prefix("last message repeated ").and_then(|r| r.strip_suffix(" times")) {
        return Semantics { count: n.parse().ok(), ..Default::default() };
    }
    classify_once(program, msg)
}

fn classify_once<'a>(program: Option<&'a str>, msg: &'a str) -> Semantics<'a> {
    let (base, pam_module) = match program {
        Some(p) => split_program(p),
        None => ("", None),
    };
    let is = |name: &str| base.eq_ignore_ascii_case(name);
    // `pam_unix(sshd:auth): authentication failure; …` from any program.
    if let Some((module, svc_type, rest)) = pam_prefix(msg) {
        let (svc, phase) = svc_type.split_once(':').unwrap_or((svc_type, ""));
        let mut s = pam(svc, phase, rest, base);
        s.unmapped.push(("pam_module", module.into()));
        return s;
    }
    // RedHat's old form puts the PAM module in the tag: `sshd(pam_unix)[1]: session …`.
    if let Some(module) = pam_module {
        let mut s = pam(base, "", msg, base);
        s.unmapped.push(("pam_module", module.into()));
        return s;
    }
    let mut s = if is("sshd") || is("sshd-session") || is("sshd-auth") {
        sshd(msg)
    } else if is("sudo") {
        sudo(msg)
    } else if is("su") {
        su(msg)
    } else if is("cron") || is("crond") {
        cron(msg)
    } else if ACCOUNT_PROGRAMS.iter().any(|p| is(p)) {
        account(base, msg)
    } else {
        Semantics::default()
    };
    if s.service.is_none() && !base.is_empty() {
        s.service = Some(base);
    }
    s
}

/// `pam_unix(sshd:auth): rest` → (`pam_unix`, `sshd:auth`, `rest`).
fn pam_prefix(msg: &str) -> Option<(&str, &str, &str)> {
    if !msg.starts_with("pam_") {
        return None;
    }
    let open = msg.find('(')?;
    let close = open + msg[open..].find("): ")?;
    Some((&msg[..open], &msg[open + 1..close], &msg[close + 3..]))
}

/// `key=value` pairs separated by spaces, values possibly empty (`ruser= rhost=1.2.3.4`).
fn kv_pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split(' ').filter_map(|t| t.split_once('='))
}

fn kv<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    kv_pairs(text).find(|(k, _)| *k == key).map(|(_, v)| v).filter(|v| !v.is_empty())
}

fn is_ip(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok()
}

/// A PAM module's result line; `svc` is the PAM service, `program` the logging tool.
fn pam<'a>(svc: &'a str, phase: &'a str, rest: &'a str, program: &'a str) -> Semantics<'a> {
    let mut s = if let Some(fields) = rest.strip_prefix("authentication failure;") {
        // `logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root`
        let mut s = Semantics::logon(false);
        s.user = kv(fields, "user");
        s.sigma_user = s.user;
        s.actor = kv(fields, "ruser").or_else(|| kv(fields, "logname"));
        // `uid=` is the calling process's; it names the actor only beside a name
        // (sudo's invoking user), not for a daemon (sshd runs as 0).
        s.actor_uid = s.actor.and(kv(fields, "uid"));
        s.tty = kv(fields, "tty");
        if let Some(rhost) = kv(fields, "rhost") {
            if is_ip(rhost) {
                s.src_ip = Some(rhost);
            } else {
                s.src_host = Some(rhost);
            }
            s.remote = true;
        }
        s.status_detail = Some("authentication failure");
        s
    } else if let Some(rest) = rest.strip_prefix("session opened for user ") {
        // `root by alice(uid=1000)`, `vagrant by (uid=0)`, `root(uid=0) by alice(uid=1000)`
        let (target, by) = rest.split_once(" by ").unwrap_or((rest, ""));
        let (target, target_uid) = name_uid(target);
        let (by_name, by_uid) = name_uid(by.trim());
        let mut s = Semantics::logon(true);
        s.user = Some(target).filter(|t| !t.is_empty());
        s.user_uid = target_uid;
        s.actor = Some(by_name).filter(|n| !n.is_empty());
        s.actor_uid = by_uid;
        // Who acted is the Sigma `User` when named (su / sudo); otherwise the session's
        // own user (sshd, cron: "by (uid=0)" is the daemon).
        match s.actor {
            Some(actor) => {
                s.sigma_user = Some(actor);
                s.sigma_target = s.user;
            }
            None => s.sigma_user = s.user,
        }
        s
    } else if let Some(rest) = rest.strip_prefix("session closed for user ") {
        let mut s = Semantics::of(Class::Authentication, activity::AUTH_LOGOFF, Some(true));
        let (user, uid) = name_uid(rest.trim());
        s.user = Some(user).filter(|u| !u.is_empty());
        s.user_uid = uid;
        s.sigma_user = s.user;
        s
    } else if let Some(user) = rest.strip_prefix("password changed for ") {
        let mut s = Semantics::of(Class::AccountChange, activity::ACCOUNT_PASSWORD_CHANGE, Some(true));
        s.user = Some(user.trim()).filter(|u| !u.is_empty());
        s.sigma_target = s.user;
        s
    } else {
        Semantics::default()
    };
    if svc.eq_ignore_ascii_case("sshd") {
        s.remote = true;
    }
    if !phase.is_empty() {
        s.unmapped.push(("pam_phase", phase.into()));
    }
    s.service = Some(if svc.is_empty() { program } else { svc });
    s
}

/// `alice(uid=1000)` → (`alice`, `Some("1000")`); `(uid=0)` → (``, `Some("0")`).
fn name_uid(text: &str) -> (&str, Option<&str>) {
    match text.split_once("(uid=") {
        Some((name, rest)) => (name, rest.strip_suffix(')').filter(|u| u.bytes().all(|b| b.is_ascii_digit()))),
        None => (text, None),
    }
}

/// `IP port N …` → (ip, port).
fn ip_port(text: &str) -> (Option<&str>, Option<u16>) {
    let mut parts = text.split(' ');
    let ip = parts.next().filter(|ip| is_ip(ip));
    let port = match (parts.next(), parts.next()) {
        (Some("port"), Some(p)) => p.trim_end_matches([':', ',']).parse().ok(),
        _ => None,
    };
    (ip, port)
}

/// `[invalid user |authenticating user |user ]NAME IP[ port N]` (sshd's
/// `Connection closed by` / `Disconnected from` forms): user, ip, port, and how the
/// user was qualified.
fn user_ip_port(text: &str) -> (Option<&str>, Option<&str>, Option<u16>, Option<&'static str>) {
    let (body, port) = match text.rsplit_once(" port ") {
        Some((body, port)) => (body, port.split([' ', ':']).next().and_then(|p| p.parse().ok())),
        None => (text, None),
    };
    let (before, ip) = match body.rsplit_once(' ') {
        Some((before, ip)) => (Some(before), ip),
        None => (None, body),
    };
    let ip = Some(ip).filter(|ip| is_ip(ip));
    let (user, qualifier) = match before {
        Some(b) => {
            if let Some(u) = b.strip_prefix("invalid user ") {
                (Some(u), Some("invalid"))
            } else if let Some(u) = b.strip_prefix("authenticating user ") {
                (Some(u), Some("authenticating"))
            } else if let Some(u) = b.strip_prefix("user ") {
                (Some(u), None)
            } else {
                (None, None)
            }
        }
        None => (None, None),
    };
    (user.filter(|u| !u.is_empty()), ip, port, qualifier)
}

/// OpenSSH sshd messages.
fn sshd(msg: &str) -> Semantics<'_> {
    let msg = msg.strip_suffix(" [preauth]").unwrap_or(msg).trim_end();
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    let mut s = sshd_inner(msg);
    s.service = Some("sshd");
    s.remote = true;
    s
}

fn sshd_inner(msg: &str) -> Semantics<'_> {
    // `Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33:…`
    // `Failed password for invalid user admin from 1.2.3.4 port 22 ssh2`
    for (prefix, success) in [("Accepted ", true), ("Failed ", false)] {
        let Some(rest) = msg.strip_prefix(prefix) else { continue };
        let Some((method, rest)) = rest.split_once(" for ") else { continue };
        let Some((user, after)) = rest.rsplit_once(" from ") else { continue };
        let (user, invalid) = match user.strip_prefix("invalid user ") {
            Some(u) => (u, true),
            None => (user, false),
        };
        let (ip, port) = ip_port(after);
        let mut s = Semantics::logon(success).with_source(ip, port);
        s.user = Some(user).filter(|u| !u.is_empty());
        s.sigma_user = s.user;
        s.auth_protocol = Some(method);
        if invalid {
            s.unmapped.push(("invalid_user", true.into()));
            s.status_detail = Some("invalid user");
        }
        if let Some((_, key)) = after.split_once(": ") {
            // The key type and fingerprint of a publickey logon.
            s.unmapped.push(("ssh_key", key.into()));
        }
        return s;
    }
    // `Invalid user test from 10.0.2.2[ port 5]`
    if let Some(rest) = msg.strip_prefix("Invalid user ") {
        let (user, after) = rest.rsplit_once(" from ").unwrap_or((rest, ""));
        let (ip, port) = ip_port(after);
        let mut s = Semantics::logon(false).with_source(ip, port);
        s.user = Some(user).filter(|u| !u.is_empty());
        s.sigma_user = s.user;
        s.status_detail = Some("invalid user");
        s.unmapped.push(("invalid_user", true.into()));
        return s;
    }
    // `PAM 4 more authentication failures; logname= uid=0 … rhost=1.2.3.4  user=root`
    if let Some(rest) = msg.strip_prefix("PAM ") {
        if let Some((n, fields)) = rest.split_once(" more authentication failure") {
            let fields = fields.split_once(';').map_or("", |(_, f)| f);
            let mut s = Semantics::logon(false).with_source(kv(fields, "rhost").filter(|h| is_ip(h)), None);
            s.user = kv(fields, "user");
            s.sigma_user = s.user;
            s.count = n.parse().ok();
            s.status_detail = Some("authentication failure");
            return s;
        }
    }
    // `Disconnected from user alice 1.2.3.4 port 22` after a logon: the logoff.
    // Before a logon (`invalid` / `authenticating` user, or no user) it is only the
    // connection closing.
    for prefix in ["Disconnected from ", "Connection closed by ", "Connection reset by "] {
        let Some(rest) = msg.strip_prefix(prefix) else { continue };
        let (user, ip, port, qualifier) = user_ip_port(rest);
        let mut s = if prefix == "Disconnected from " && user.is_some() && qualifier.is_none() {
            Semantics::of(Class::Authentication, activity::AUTH_LOGOFF, Some(true))
        } else {
            Semantics::of(Class::NetworkActivity, activity::NETWORK_CLOSE, None)
        };
        s = s.with_source(ip, port);
        s.user = user;
        s.sigma_user = user;
        if let Some(q) = qualifier {
            s.unmapped.push(("user_state", q.into()));
        }
        return s;
    }
    // `Received disconnect from 10.0.2.2: 11: disconnected by user` (OpenSSH < 7.3)
    // `Received disconnect from 1.2.3.4 port 5:11: Bye Bye`
    if let Some(rest) = msg.strip_prefix("Received disconnect from ") {
        let (addr, reason) = rest.split_once(':').unwrap_or((rest, ""));
        let (ip, port) = ip_port(addr);
        let mut s = Semantics::of(Class::NetworkActivity, activity::NETWORK_CLOSE, None).with_source(ip, port);
        let reason = reason.trim_start();
        if let Some((code, text)) = reason.split_once(':') {
            if let Ok(code) = code.trim().parse::<u64>() {
                s.unmapped.push(("disconnect_code", code.into()));
            }
            s.status_detail = Some(text.trim()).filter(|t| !t.is_empty());
        }
        return s;
    }
    // `Connection from 1.2.3.4 port 5 on 10.0.0.1 port 22` (LogLevel VERBOSE).
    if let Some(rest) = msg.strip_prefix("Connection from ") {
        let (src, dst) = rest.split_once(" on ").unwrap_or((rest, ""));
        let (ip, port) = ip_port(src);
        let mut s = Semantics::of(Class::NetworkActivity, activity::NETWORK_OPEN, None).with_source(ip, port);
        let (dst_ip, dst_port) = ip_port(dst);
        if let Some(dst_ip) = dst_ip {
            s.unmapped.push(("dst_ip", dst_ip.into()));
        }
        if let Some(dst_port) = dst_port {
            s.unmapped.push(("dst_port", dst_port.into()));
        }
        return s;
    }
    // Facts worth keeping on otherwise plain messages.
    let mut s = Semantics::default();
    if let Some(rest) = msg.strip_prefix("Did not receive identification string from ") {
        let (ip, port) = ip_port(rest);
        s = s.with_source(ip, port);
    } else if let Some(rest) = msg.strip_prefix("reverse mapping checking getaddrinfo for ") {
        // `HOST [IP] failed - POSSIBLE BREAK-IN ATTEMPT!`
        if let Some((host, after)) = rest.split_once(" [") {
            s.src_host = Some(host);
            s.src_ip = after.split_once(']').map(|(ip, _)| ip).filter(|ip| is_ip(ip));
        }
    } else if let Some(user) = msg.strip_prefix("input_userauth_request: invalid user ") {
        s.sigma_user = Some(user).filter(|u| !u.is_empty());
        s.user = s.sigma_user;
    } else if let Some(user) = msg.strip_prefix("Disconnecting: Too many authentication failures for ") {
        s.sigma_user = Some(user).filter(|u| !u.is_empty());
        s.user = s.sigma_user;
    } else if let Some(user) = msg.strip_prefix("subsystem request for ").and_then(|r| r.split_once(" by user ")) {
        s.sigma_user = Some(user.1).filter(|u| !u.is_empty());
        s.user = s.sigma_user;
    }
    s
}

/// sudo: `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow`,
/// with a reason before the fields when sudo refused (`3 incorrect password attempts ;`,
/// `user NOT in sudoers ;`).
fn sudo(msg: &str) -> Semantics<'_> {
    let trimmed = msg.trim_start();
    let Some((user, rest)) = trimmed.split_once(" : ") else {
        return Semantics::default();
    };
    if user.is_empty() || user.contains(' ') {
        return Semantics::default();
    }
    if rest.starts_with("(command continued)") {
        return Semantics { sigma_user: Some(user), actor: Some(user), ..Default::default() };
    }
    // COMMAND is last and may itself contain ` ; `: everything after `COMMAND=` is it.
    let (fields, command) = match rest.find("COMMAND=") {
        Some(i) => (&rest[..i], Some(rest[i + "COMMAND=".len()..].trim_end())),
        None => (rest, None),
    };
    let mut reason = None;
    let (mut tty, mut cwd, mut target) = (None, None, None);
    for part in fields.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("TTY", v)) => tty = Some(v),
            Some(("PWD", v)) => cwd = Some(v),
            Some(("USER", v)) => target = Some(v),
            Some((k, _)) if k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {}
            _ => reason = reason.or(Some(part)),
        }
    }
    if tty.is_none() && cwd.is_none() && target.is_none() && command.is_none() {
        return Semantics::default();
    }
    let mut s = match reason {
        Some(r) if r.contains("incorrect password attempt") => {
            // sudo asked for the invoking user's own password: that logon failed.
            let mut s = Semantics::logon(false);
            s.user = Some(user);
            s.status_detail = Some(r);
            s.count = r.split(' ').next().and_then(|n| n.parse().ok());
            s.unmapped.push(("target_user", target.map(Value::from).unwrap_or(Value::Null)));
            s
        }
        Some(r) => {
            // Refused by policy (`user NOT in sudoers`, `command not allowed`): the
            // command was not run.
            let mut s = Semantics::of(Class::ProcessActivity, activity::PROCESS_LAUNCH, Some(false));
            s.user = target;
            s.status_detail = Some(r);
            s
        }
        None => {
            let mut s = Semantics::of(Class::ProcessActivity, activity::PROCESS_LAUNCH, Some(true));
            s.user = target;
            s
        }
    };
    s.actor = Some(user);
    s.sigma_user = Some(user);
    s.sigma_target = target;
    s.tty = tty;
    s.cwd = cwd;
    s.command = command.filter(|c| !c.is_empty());
    s
}

/// su (shadow-utils and util-linux).
fn su(msg: &str) -> Semantics<'_> {
    let (success, caller, target, tty) = if let Some(rest) =
        msg.strip_prefix("(to ").or_else(|| msg.strip_prefix("FAILED SU (to "))
    {
        // util-linux: `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`
        let Some((target, rest)) = rest.split_once(") ") else { return Semantics::default() };
        let (caller, tty) = rest.split_once(" on ").unwrap_or((rest, ""));
        (!msg.starts_with("FAILED"), caller, target, tty)
    } else if let Some(rest) = msg.strip_prefix("Successful su for ").or_else(|| msg.strip_prefix("FAILED su for ")) {
        // shadow-utils: `Successful su for tsg by root`, `FAILED su for root by alice`
        let Some((target, caller)) = rest.split_once(" by ") else { return Semantics::default() };
        (msg.starts_with("Successful"), caller, target, "")
    } else if let Some(rest) = msg.strip_prefix("+ ").or_else(|| msg.strip_prefix("- ")) {
        // shadow-utils: `+ /dev/pts/1 root:tsg` (success), `- /dev/pts/1 alice:root`.
        let Some((tty, users)) = rest.split_once(' ') else { return Semantics::default() };
        let Some((caller, target)) = users.split_once(':') else { return Semantics::default() };
        (msg.starts_with('+'), caller, target, tty)
    } else {
        return Semantics::default();
    };
    let mut s = Semantics::logon(success);
    s.user = Some(target.trim()).filter(|t| !t.is_empty());
    s.actor = Some(caller.trim()).filter(|c| !c.is_empty());
    s.sigma_user = s.actor;
    s.sigma_target = s.user;
    s.tty = Some(tty).filter(|t| !t.is_empty());
    s.service = Some("su");
    s
}

/// cron: `(root) CMD (run-parts /etc/cron.hourly)` is a job being started.
fn cron(msg: &str) -> Semantics<'_> {
    let Some(rest) = msg.strip_prefix('(') else { return Semantics::default() };
    let Some((user, rest)) = rest.split_once(") ") else { return Semantics::default() };
    if let Some(cmd) = rest.strip_prefix("CMD (").and_then(|c| c.strip_suffix(')')) {
        let mut s = Semantics::of(Class::ProcessActivity, activity::PROCESS_LAUNCH, Some(true));
        s.user = Some(user);
        s.sigma_user = Some(user);
        s.command = Some(cmd.trim()).filter(|c| !c.is_empty());
        return s;
    }
    Semantics { sigma_user: Some(user).filter(|u| !u.is_empty() && *u != "CRON"), ..Default::default() }
}

/// The first `'quoted'` word of `text` and what follows it.
fn quoted(text: &str) -> Option<(&str, &str)> {
    let start = text.find('\'')? + 1;
    let len = text[start..].find('\'')?;
    Some((&text[start..start + len], &text[start + len + 1..]))
}

/// `name=x, UID=1001, GID=1001, home=/home/x, shell=/bin/bash` (shadow-utils).
fn comma_fields(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split(", ").filter_map(|p| p.trim().split_once('='))
}

/// shadow-utils account tools.
fn account<'a>(program: &'a str, msg: &'a str) -> Semantics<'a> {
    let change = |activity: u8| Semantics::of(Class::AccountChange, activity, Some(true));
    let mut s = if let Some(fields) = msg.strip_prefix("new user: ") {
        let mut s = change(activity::ACCOUNT_CREATE);
        for (k, v) in comma_fields(fields) {
            match k {
                "name" => s.user = Some(v),
                "UID" => s.user_uid = Some(v),
                "GID" => s.unmapped.push(("gid", v.into())),
                "home" => s.unmapped.push(("home", v.into())),
                "shell" => s.unmapped.push(("shell", v.into())),
                "from" => s.tty = Some(v),
                _ => {}
            }
        }
        s
    } else if msg.starts_with("new group: ") || msg.starts_with("group added to ") {
        // Groups have no class of their own here: an account change of kind Other.
        let fields = msg.split_once(": ").map_or("", |(_, f)| f);
        let mut s = change(activity::OTHER);
        for (k, v) in comma_fields(fields) {
            match k {
                "name" => s.unmapped.push(("group", v.into())),
                "GID" => s.unmapped.push(("gid", v.into())),
                _ => {}
            }
        }
        s
    } else if let Some(rest) = msg.strip_prefix("add ") {
        // `add 'alice' to group 'sudo'`, `add 'alice' to shadow group 'sudo'`
        let Some((user, rest)) = quoted(rest) else { return Semantics::default() };
        let mut s = change(activity::ACCOUNT_ATTACH_POLICY);
        s.user = Some(user);
        if let Some((group, _)) = quoted(rest) {
            s.unmapped.push(("group", group.into()));
        }
        s
    } else if let Some(rest) = msg.strip_prefix("delete ").filter(|r| r.starts_with('\'')) {
        // `delete 'alice' from group 'sudo'`
        let Some((user, rest)) = quoted(rest) else { return Semantics::default() };
        let mut s = change(ACCOUNT_DETACH_POLICY);
        s.user = Some(user);
        if let Some((group, _)) = quoted(rest) {
            s.unmapped.push(("group", group.into()));
        }
        s
    } else if let Some(rest) = msg.strip_prefix("delete user ") {
        let mut s = change(activity::ACCOUNT_DELETE);
        s.user = quoted(rest).map(|(u, _)| u);
        s
    } else if let Some(rest) = msg.strip_prefix("change user ") {
        // usermod: `change user 'x' password`, `… shell from '/bin/sh' to '/bin/bash'`.
        let Some((user, what)) = quoted(rest) else { return Semantics::default() };
        let activity = match what.trim() {
            "password" => activity::ACCOUNT_PASSWORD_CHANGE,
            _ => activity::OTHER,
        };
        let mut s = change(activity);
        s.user = Some(user);
        s
    } else if let Some(rest) = msg.strip_prefix("lock user ").or_else(|| msg.strip_prefix("unlock user ")) {
        let activity = if msg.starts_with("lock") { ACCOUNT_LOCK } else { activity::ACCOUNT_ENABLE };
        let mut s = change(activity);
        s.user = quoted(rest).map(|(u, _)| u);
        s
    } else if let Some(rest) = msg.strip_prefix("password for ") {
        // passwd: `password for 'alice' changed by 'root'`
        let Some((user, rest)) = quoted(rest) else { return Semantics::default() };
        let mut s = change(activity::ACCOUNT_PASSWORD_CHANGE);
        s.user = Some(user);
        s.actor = quoted(rest).map(|(a, _)| a);
        s
    } else if let Some(user) = msg.strip_prefix("changed password expiry for ") {
        let mut s = change(activity::OTHER);
        s.user = Some(user.trim());
        s
    } else if msg.starts_with("changed user ") || msg.starts_with("removed group ") || msg.starts_with("group ") {
        // chfn `changed user 'x' information`, userdel `removed group 'x' owned by 'x'`.
        let mut s = change(activity::OTHER);
        if msg.starts_with("changed user ") {
            s.user = quoted(msg).map(|(u, _)| u);
        } else if let Some((group, _)) = quoted(msg) {
            s.unmapped.push(("group", group.into()));
        }
        s
    } else {
        Semantics::default()
    };
    s.sigma_target = s.user;
    s.sigma_user = s.actor;
    s.service = Some(program);
    s
}

/// OCSF Account Change activities not in `ocsf::activity`.
const ACCOUNT_DETACH_POLICY: u8 = 8;
const ACCOUNT_LOCK: u8 = 9;

#[cfg(test)]
mod tests {
    use super::*;

    fn c<'a>(program: &'a str, msg: &'a str) -> Semantics<'a> {
        classify(Some(program), msg)
    }

    #[test]
    fn sshd_accept_and_fail() {
        let s = c("sshd", "Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33:99");
        assert_eq!(
            (s.class, s.success, s.user, s.src_ip, s.src_port),
            (Some(Class::Authentication), Some(true), Some("vagrant"), Some("10.0.2.2"), Some(63673))
        );
        assert_eq!(s.auth_protocol, Some("publickey"));
        let s = c("sshd", "Failed password for invalid user admin from 1.2.3.4 port 22 ssh2");
        assert_eq!((s.success, s.user, s.status_detail), (Some(false), Some("admin"), Some("invalid user")));
        let s = c("sshd", "Failed none for invalid user 0 from 5.6.7.8 port 1 ssh2");
        assert_eq!((s.user, s.auth_protocol), (Some("0"), Some("none")));
        let s = c("sshd", "Invalid user test from 10.0.2.2");
        assert_eq!((s.success, s.user, s.src_ip, s.src_port), (Some(false), Some("test"), Some("10.0.2.2"), None));
        let s = c("sshd", "Accepted keyboard-interactive/pam for bob from 2001:db8::1 port 5 ssh2");
        assert_eq!((s.auth_protocol, s.src_ip), (Some("keyboard-interactive/pam"), Some("2001:db8::1")));
    }

    #[test]
    fn repeated_message_keeps_its_count() {
        let s = c("sshd", "message repeated 5 times: [ Failed password for root from 183.62.140.253 port 48110 ssh2]");
        assert_eq!((s.success, s.user, s.count, s.src_port), (Some(false), Some("root"), Some(5), Some(48110)));
        let s = c("sshd", "last message repeated 2 times");
        assert_eq!((s.class, s.count), (None, Some(2)));
    }

    #[test]
    fn sshd_disconnects() {
        let s = c("sshd", "Received disconnect from 10.0.2.2: 11: disconnected by user");
        assert_eq!(
            (s.class, s.activity, s.src_ip),
            (Some(Class::NetworkActivity), activity::NETWORK_CLOSE, Some("10.0.2.2"))
        );
        assert_eq!(s.status_detail, Some("disconnected by user"));
        let s = c("sshd", "Received disconnect from 1.2.3.4 port 5022:11: Bye Bye [preauth]");
        assert_eq!((s.src_ip, s.src_port, s.status_detail), (Some("1.2.3.4"), Some(5022), Some("Bye Bye")));
        let s = c("sshd", "Disconnected from user alice 1.2.3.4 port 22");
        assert_eq!((s.class, s.activity, s.user), (Some(Class::Authentication), activity::AUTH_LOGOFF, Some("alice")));
        let s = c("sshd", "Connection closed by authenticating user root 1.2.3.4 port 41 [preauth]");
        assert_eq!((s.class, s.user, s.src_port), (Some(Class::NetworkActivity), Some("root"), Some(41)));
        let s = c("sshd", "Connection closed by 1.2.3.4 [preauth]");
        assert_eq!((s.user, s.src_ip), (None, Some("1.2.3.4")));
        let s =
            c("sshd", "error: Received disconnect from 1.2.3.4: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]");
        assert_eq!(s.status_detail, Some("com.jcraft.jsch.JSchException: Auth fail"));
    }

    #[test]
    fn pam_lines() {
        let s = c("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root");
        assert_eq!(
            (s.success, s.user, s.src_ip, s.service),
            (Some(false), Some("root"), Some("1.2.3.4"), Some("sshd"))
        );
        let s = c("sudo", "pam_unix(sudo:session): session opened for user root by vagrant(uid=1000)");
        assert_eq!(
            (s.activity, s.user, s.actor, s.actor_uid),
            (activity::AUTH_LOGON, Some("root"), Some("vagrant"), Some("1000"))
        );
        assert_eq!((s.sigma_user, s.sigma_target), (Some("vagrant"), Some("root")));
        let s = c("CRON", "pam_unix(cron:session): session opened for user root by (uid=0)");
        assert_eq!((s.sigma_user, s.actor, s.actor_uid), (Some("root"), None, Some("0")));
        let s = c("sshd(pam_unix)", "session closed for user test");
        assert_eq!((s.activity, s.user), (activity::AUTH_LOGOFF, Some("test")));
        let s = c("passwd", "pam_unix(passwd:chauthtok): password changed for tsg");
        assert_eq!(
            (s.class, s.activity, s.user),
            (Some(Class::AccountChange), activity::ACCOUNT_PASSWORD_CHANGE, Some("tsg"))
        );
        let s = c(
            "sshd",
            "PAM 4 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=202.109.143.106  user=root",
        );
        assert_eq!(
            (s.success, s.count, s.user, s.src_ip),
            (Some(false), Some(4), Some("root"), Some("202.109.143.106"))
        );
    }

    #[test]
    fn sudo_lines() {
        let s = c("sudo", "  vagrant : TTY=pts/0 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/cat /var/log/auth.log");
        assert_eq!(
            (s.class, s.success, s.actor, s.user),
            (Some(Class::ProcessActivity), Some(true), Some("vagrant"), Some("root"))
        );
        assert_eq!(
            (s.command, s.cwd, s.tty),
            (Some("/bin/cat /var/log/auth.log"), Some("/home/vagrant"), Some("pts/0"))
        );
        let s = c(
            "sudo",
            "     tsg : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls",
        );
        assert_eq!(
            (s.class, s.success, s.user, s.count),
            (Some(Class::Authentication), Some(false), Some("tsg"), Some(3))
        );
        let s =
            c("sudo", "     tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls");
        assert_eq!(
            (s.class, s.success, s.status_detail),
            (Some(Class::ProcessActivity), Some(false), Some("user NOT in sudoers"))
        );
        let s = c(
            "sudo",
            "vagrant : TTY=pts/0 ; PWD=/h ; USER=root ; COMMAND=/bin/sh -c echo a; rc=flag; [ -r /x ] || rc=2",
        );
        assert_eq!(s.command, Some("/bin/sh -c echo a; rc=flag; [ -r /x ] || rc=2"));
        assert_eq!(c("sudo", "unable to execute /usr/sbin/sendmail: No such file").class, None);
    }

    #[test]
    fn su_lines() {
        let s = c("su", "(to root) alice on pts/0");
        assert_eq!((s.success, s.user, s.actor, s.tty), (Some(true), Some("root"), Some("alice"), Some("pts/0")));
        let s = c("su", "FAILED su for root by alice");
        assert_eq!((s.success, s.user, s.actor), (Some(false), Some("root"), Some("alice")));
        let s = c("su", "+ /dev/pts/1 root:tsg");
        assert_eq!((s.success, s.user, s.actor), (Some(true), Some("tsg"), Some("root")));
        let s = c("su", "pam_unix(su:session): session opened for user root by alice(uid=1000)");
        assert_eq!((s.sigma_user, s.sigma_target), (Some("alice"), Some("root")));
    }

    #[test]
    fn account_lines() {
        let s = c("useradd", "new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin");
        assert_eq!(
            (s.class, s.activity, s.user, s.user_uid),
            (Some(Class::AccountChange), activity::ACCOUNT_CREATE, Some("apache"), Some("48"))
        );
        let s = c("usermod", "add 'alice' to group 'sudo'");
        assert_eq!((s.activity, s.user), (activity::ACCOUNT_ATTACH_POLICY, Some("alice")));
        assert!(s.unmapped.contains(&("group", "sudo".into())));
        let s = c("usermod", "change user 'alice' password");
        assert_eq!(s.activity, activity::ACCOUNT_PASSWORD_CHANGE);
        let s = c("userdel", "delete user 'bob'");
        assert_eq!((s.activity, s.user), (activity::ACCOUNT_DELETE, Some("bob")));
        let s = c("passwd", "password for 'bob' changed by 'root'");
        assert_eq!((s.activity, s.user, s.actor), (activity::ACCOUNT_PASSWORD_CHANGE, Some("bob"), Some("root")));
        let s = c("groupadd", "new group: name=tsg, GID=1003");
        assert_eq!((s.activity, s.user), (activity::OTHER, None));
    }

    #[test]
    fn services() {
        assert_eq!(service(Some("sshd"), ""), "sshd");
        assert_eq!(service(Some("CRON"), ""), "cron");
        assert_eq!(service(Some("su(pam_unix)"), ""), "su");
        assert_eq!(service(Some("login(pam_unix)"), ""), "auth");
        assert_eq!(service(Some("useradd"), ""), "auth");
        assert_eq!(service(Some("gdm-binary"), ""), "auth");
        assert_eq!(service(Some("kernel"), ""), "syslog");
        assert_eq!(service(None, ""), "syslog");
    }
}
