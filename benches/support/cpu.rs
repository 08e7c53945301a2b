//! CPU time from /proc: of this process and of every PostgreSQL server
//! process on the machine. Include with `#[path = "support/cpu.rs"] mod cpu;`.

/// User plus system CPU seconds a process has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // The kernel's USER_HZ is 100 on Linux.
    ticks / 100.0
}

/// Every PostgreSQL server process on the machine (backends, WAL writer, ...).
pub fn postgres_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .collect()
}

/// CPU seconds used so far by this process and by PostgreSQL's processes.
pub fn ours_and_postgres() -> (f64, f64) {
    let postgres = postgres_pids().iter().map(|p| cpu_seconds(*p)).sum();
    (cpu_seconds(std::process::id()), postgres)
}

/// The load average over 1, 5 and 15 minutes, as /proc/loadavg prints it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
