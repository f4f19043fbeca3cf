//! Hiding an attached interface's frames from the host stack with an ingress drop.
//!
//! The kernel datapath's rx handler takes every frame away from the host stack. From userspace
//! the closest equivalent is a drop at tc ingress: AF_PACKET taps run in
//! `__netif_receive_skb_core` *before* tc ingress, so our sockets still see every frame while
//! the host never answers (ARP, ICMP, TCP RST) on the datapath's behalf. Consequence: OVS's
//! ingress policing (also tc) no longer limits what we receive.
//!
//! Two ways to install it, tried in order:
//! 1. tcx (Linux ≥ 6.6): a two-instruction BPF program (`return TCX_DROP`) attached with a BPF
//!    link at the front of the device's ingress chain. Needs no tool and no tc module, and the
//!    kernel detaches it by itself when the link descriptor closes, even if the daemon dies.
//! 2. The `tc` program: `clsact` + `ingress pref 1 matchall action drop` (needs `cls_matchall`
//!    and `act_gact`), removed on drop.

use std::io;
use std::mem::size_of;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

/// Filter priority of the tc drop rule: the highest, so no other ingress filter runs first.
pub const DROP_PREF: u32 = 1;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
const BPF_TCX_INGRESS: u32 = 46;
/// `BPF_F_BEFORE` without a relative program: put ours first in the chain.
const BPF_F_BEFORE: u32 = 1 << 3;

/// `r0 = 2 (TCX_DROP); exit` as two `struct bpf_insn`.
const DROP_PROG: [u64; 2] = [
    // code 0xb7 = BPF_ALU64|BPF_MOV|BPF_K, dst r0, imm 2 (bytes in memory order).
    u64::from_ne_bytes([0xb7, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]),
    // code 0x95 = BPF_JMP|BPF_EXIT.
    u64::from_ne_bytes([0x95, 0, 0, 0, 0, 0, 0, 0]),
];

/// How the drop was installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropKind {
    /// A BPF program on the tcx ingress hook.
    Tcx,
    /// A `tc` matchall filter on a clsact qdisc.
    TcMatchall,
}

#[derive(Debug)]
enum How {
    Tcx {
        _link: OwnedFd,
        _prog: OwnedFd,
    },
    Tc {
        /// We added the clsact qdisc (so we remove it); else only our filter goes.
        own_qdisc: bool,
    },
}

/// An installed ingress drop on one interface, removed on drop.
#[derive(Debug)]
pub struct IngressDrop {
    dev: String,
    how: How,
}

/// `bpf(2)` with a zero-padded `union bpf_attr` of which we fill the first words.
fn bpf(cmd: libc::c_long, attr: &[u32; 32]) -> io::Result<OwnedFd> {
    // SAFETY: attr is a live 128-byte buffer the kernel reads (size passed explicitly); the
    // commands used return a new descriptor or -1.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_ptr(),
            size_of::<[u32; 32]>() as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success both commands return a fresh descriptor we exclusively own.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) })
}

fn tcx_drop(ifindex: u32) -> io::Result<How> {
    let license = c"GPL";
    let mut attr = [0u32; 32];
    // struct { u32 prog_type; u32 insn_cnt; u64 insns; u64 license; ... } of BPF_PROG_LOAD.
    attr[0] = BPF_PROG_TYPE_SCHED_CLS;
    attr[1] = DROP_PROG.len() as u32;
    let insns = DROP_PROG.as_ptr() as u64;
    let lic = license.as_ptr() as u64;
    attr[2] = insns as u32;
    attr[3] = (insns >> 32) as u32;
    attr[4] = lic as u32;
    attr[5] = (lic >> 32) as u32;
    let prog = bpf(BPF_PROG_LOAD, &attr)?;
    // struct { u32 prog_fd; u32 target_ifindex; u32 attach_type; u32 flags; ... } of LINK_CREATE.
    let mut attr = [0u32; 32];
    attr[0] = std::os::fd::AsRawFd::as_raw_fd(&prog) as u32;
    attr[1] = ifindex;
    attr[2] = BPF_TCX_INGRESS;
    attr[3] = BPF_F_BEFORE;
    let link = bpf(BPF_LINK_CREATE, &attr)?;
    Ok(How::Tcx {
        _link: link,
        _prog: prog,
    })
}

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

fn tc_drop(dev: &str) -> io::Result<How> {
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
    Ok(How::Tc { own_qdisc })
}

impl IngressDrop {
    /// Drops every frame `dev` (ifindex `ifindex`) receives before the host stack sees it.
    pub fn install(dev: &str, ifindex: u32) -> io::Result<IngressDrop> {
        if dev.is_empty() || dev.starts_with('-') || dev.contains(char::is_whitespace) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let how = match tcx_drop(ifindex) {
            Ok(how) => how,
            Err(tcx_err) => tc_drop(dev)
                .map_err(|tc_err| io::Error::other(format!("tcx: {tcx_err}; {tc_err}")))?,
        };
        Ok(IngressDrop {
            dev: dev.to_owned(),
            how,
        })
    }

    /// The interface.
    pub fn dev(&self) -> &str {
        &self.dev
    }

    /// Which mechanism holds the drop.
    pub fn kind(&self) -> DropKind {
        match self.how {
            How::Tcx { .. } => DropKind::Tcx,
            How::Tc { .. } => DropKind::TcMatchall,
        }
    }
}

impl Drop for IngressDrop {
    fn drop(&mut self) {
        // tcx: closing the link descriptor detaches the program. tc: the interface may be gone
        // already (its qdiscs went with it), so errors are ignored.
        if let How::Tc { own_qdisc } = self.how {
            if own_qdisc {
                let _ = tc(&["qdisc", "del", "dev", &self.dev, "clsact"]);
            } else {
                let pref = DROP_PREF.to_string();
                let _ = tc(&["filter", "del", "dev", &self.dev, "ingress", "pref", &pref]);
            }
        }
    }
}
