//! Garbage in, an error out: random bytes, YAML-looking noise and truncated files must never
//! make the loader panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use fleetplan_kube::load;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "apiVersion: ",
    "kind: ",
    "apps/v1",
    "v1",
    "Deployment",
    "Job",
    "List",
    "Node",
    "Pod",
    "Fleet",
    "fleetplan.io/v1",
    "metadata:",
    "name: ",
    "namespace: ",
    "spec:",
    "replicas: ",
    "-1",
    "1e400",
    "0.5",
    "1Gi",
    "250m",
    "items:",
    "containers:",
    "resources:",
    "requests:",
    "cpu: ",
    "memory: ",
    "clusters:",
    "pools:",
    "count: ",
    "---\n",
    "\n",
    "  ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ": ",
    ",",
    "'",
    "\"",
    "&a ",
    "*a",
    "!!str ",
    "? ",
    "|\n",
    ">\n",
    "#",
    "~",
    "null",
    "\t",
    "\u{feff}",
    "é",
    "fleetplan.io/strategy: ",
    "nodeName: ",
    "status:",
    "allocatable:",
    "<<: *a",
];

fn load_text(dir: &Path, fleet: &[u8], apps: &[u8]) -> Result<(), String> {
    let fleet_file = dir.join("fleet.yaml");
    let apps_file = dir.join("apps.yaml");
    std::fs::write(&fleet_file, fleet).map_err(|e| e.to_string())?;
    std::fs::write(&apps_file, apps).map_err(|e| e.to_string())?;
    match catch_unwind(AssertUnwindSafe(|| load(&fleet_file, &apps_file))) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => panic!(
            "the loader panicked on\n--- fleet ---\n{}\n--- apps ---\n{}",
            String::from_utf8_lossy(fleet),
            String::from_utf8_lossy(apps)
        ),
    }
}

fn data(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(path),
    )
    .expect("test data")
}

#[test]
fn random_bytes_give_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = data("synthetic/fleet/fleet.yaml");
    let apps = data("synthetic/apps/apps.yaml");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut errors = 0;
    for round in 0..300 {
        let len = rng.below(400);
        let bytes: Vec<u8> = if round % 2 == 0 {
            (0..len).map(|_| (rng.next() & 0xff) as u8).collect()
        } else {
            (0..len / 4)
                .map(|_| TOKENS[rng.below(TOKENS.len())])
                .collect::<String>()
                .into_bytes()
        };
        // Garbage as the apps, then as the fleet.
        errors += usize::from(load_text(dir.path(), &fleet, &bytes).is_err());
        errors += usize::from(load_text(dir.path(), &bytes, &apps).is_err());
    }
    // Almost all garbage is rejected (a comment-only or empty input may load).
    assert!(errors > 550, "only {errors} of 600 garbage inputs were rejected");
}

#[test]
fn truncated_files_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = data("synthetic/fleet/fleet.yaml");
    let apps = data("synthetic/apps/apps.yaml");
    let dump = data("shop/fleet/east-a.yaml");
    let shop_apps = [data("shop/apps/web.yaml"), data("shop/apps/worker.yaml")].concat();
    for cut in 0..apps.len() {
        let _ = load_text(dir.path(), &fleet, apps.get(..cut).unwrap_or_default());
    }
    for cut in 0..fleet.len() {
        let _ = load_text(dir.path(), fleet.get(..cut).unwrap_or_default(), &apps);
    }
    // The dump is long: cut it every few bytes.
    let dump_file = dir.path().join("east-a.yaml");
    for cut in (0..dump.len()).step_by(7) {
        std::fs::write(&dump_file, dump.get(..cut).unwrap_or_default()).expect("write");
        let apps_file = dir.path().join("shop.yaml");
        std::fs::write(&apps_file, &shop_apps).expect("write");
        let result = catch_unwind(AssertUnwindSafe(|| load(&dump_file, &apps_file)));
        assert!(result.is_ok(), "panicked on the dump cut at byte {cut}");
    }
}

#[test]
fn byte_flips_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = data("synthetic/fleet/fleet.yaml");
    let apps = data("synthetic/apps/apps.yaml");
    let mut rng = Rng(42);
    for _ in 0..300 {
        let mut a = apps.clone();
        let mut f = fleet.clone();
        for _ in 0..3 {
            let i = rng.below(a.len());
            if let Some(b) = a.get_mut(i) {
                *b = TOKENS[rng.below(TOKENS.len())]
                    .as_bytes()
                    .first()
                    .copied()
                    .unwrap_or(b' ');
            }
            let j = rng.below(f.len());
            if let Some(b) = f.get_mut(j) {
                *b = (rng.next() & 0x7f) as u8;
            }
        }
        let _ = load_text(dir.path(), &f, &a);
    }
}
