//! Debian/Ubuntu `/var/log/auth.log` lines as rsyslog writes them with its traditional
//! file format: `Mmm dd hh:mm:ss host program[pid]: message` (RFC 3164 layout, no year,
//! no zone, whole seconds).

use crate::clock;

/// One line; `pid` is left out for programs that log without one (sudo).
pub(crate) fn line(ms: i64, host: &str, program: &str, pid: Option<u32>, message: &str) -> String {
    match pid {
        Some(pid) => format!("{} {host} {program}[{pid}]: {message}", clock::syslog(ms)),
        None => format!("{} {host} {program}: {message}", clock::syslog(ms)),
    }
}

/// sudo's command line: the invoking user right-aligned, then the request.
pub(crate) fn sudo_command(user: &str, tty: &str, pwd: &str, target: &str, command: &str) -> String {
    format!("{user:>8} : TTY={tty} ; PWD={pwd} ; USER={target} ; COMMAND={command}")
}

/// sshd's `pam_unix(sshd:auth): authentication failure` line (`user=` only for known users).
pub(crate) fn pam_auth_failure(rhost: &str, user: Option<&str>) -> String {
    let mut msg =
        format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={rhost} ");
    if let Some(user) = user {
        msg.push_str(&format!(" user={user}"));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_debian_auth_log() {
        let ms = 1_741_069_338_819; // 2025-03-04T06:22:18.819Z
        assert_eq!(
            line(ms, "web1", "sshd", Some(812), "Failed password for root from 1.2.3.4 port 22 ssh2"),
            "Mar  4 06:22:18 web1 sshd[812]: Failed password for root from 1.2.3.4 port 22 ssh2"
        );
        assert_eq!(
            line(ms, "web1", "sudo", None, &sudo_command("alice", "pts/0", "/home/alice", "root", "/usr/bin/ls")),
            "Mar  4 06:22:18 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/ls"
        );
        assert!(pam_auth_failure("1.2.3.4", Some("root")).ends_with("rhost=1.2.3.4  user=root"));
    }
}
