//! Prints which statements of stdin (one per line) are opaque, and why.
fn main() {
    let c = guard_sql::classify::Classifier::new();
    for line in std::io::stdin().lines() {
        let sql = line.unwrap();
        let cl = c.classify(&sql);
        for i in 0..cl.statements.len() {
            let st = &cl.statements[i];
            if st.opaque {
                println!("OPAQUE {:?} <- {sql}", st.opaque_functions);
            }
        }
    }
}
