//! The operator binary. The controller arrives with the operator issue; for now it only prints the
//! version so the workspace layout is complete.

fn main() {
    println!("toolyard-operator {}", env!("CARGO_PKG_VERSION"));
}
