//! Hiding an attached interface's frames from the host stack with a tc ingress drop.
//!
//! The kernel datapath's rx handler takes every frame away from the host stack. From userspace
//! the closest equivalent is a `clsact` qdisc with an ingress `matchall action drop` filter:
//! AF_PACKET taps run in `__netif_receive_skb_core` before tc ingress, so our sockets still see
//! every frame while the host never answers (ARP, ICMP, TCP RST) on the datapath's behalf.
//! Consequence: OVS-configured ingress policing (also tc) no longer limits what we receive.
//!
//! Driven through the `tc` program (iproute2) rather than rtnetlink: it runs once per port add
//! and remove, never on the fast path.

use std::io;
use std::process::{Command, Stdio};

/// Filter priority of our drop rule: the highest, so no other ingress filter sees frames first.
pub const DROP_PREF: u32 = 1;

fn tc(args: &[&str]) -> io::Result<()> {
    let out = Command::new("tc")
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "tc {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// An installed ingress drop on one interface, removed on drop.
#[derive(Debug)]
pub struct IngressDrop {
    dev: String,
    /// We added the clsact qdisc (so we remove it); else it was there and stays.
    own_qdisc: bool,
}

impl IngressDrop {
    /// Installs `clsact` (if missing) and `ingress pref 1 matchall action drop` on `dev`.
    pub fn install(dev: &str) -> io::Result<IngressDrop> {
        if dev.is_empty() || dev.starts_with('-') || dev.contains(char::is_whitespace) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let own_qdisc = tc(&["qdisc", "add", "dev", dev, "clsact"]).is_ok();
        let pref = DROP_PREF.to_string();
        let filter = [
            "filter", "add", "dev", dev, "ingress", "pref", &pref, "protocol", "all", "matchall",
            "action", "drop",
        ];
        if let Err(e) = tc(&filter) {
            if own_qdisc {
                let _ = tc(&["qdisc", "del", "dev", dev, "clsact"]);
            }
            return Err(e);
        }
        Ok(IngressDrop {
            dev: dev.to_owned(),
            own_qdisc,
        })
    }

    /// The interface.
    pub fn dev(&self) -> &str {
        &self.dev
    }
}

impl Drop for IngressDrop {
    fn drop(&mut self) {
        // The interface may be gone already (then its qdiscs went with it).
        if self.own_qdisc {
            let _ = tc(&["qdisc", "del", "dev", &self.dev, "clsact"]);
        } else {
            let pref = DROP_PREF.to_string();
            let _ = tc(&["filter", "del", "dev", &self.dev, "ingress", "pref", &pref]);
        }
    }
}
