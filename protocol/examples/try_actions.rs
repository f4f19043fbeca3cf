//! Parses each argument as an action list and prints it back (a debugging aid).
fn main() {
    for s in std::env::args().skip(1) {
        match userdp_protocol::text::action::parse_actions(&s) {
            Ok(a) => {
                let mut o = String::new();
                userdp_protocol::text::action::format_actions(&a, &mut o);
                println!("{s}  =>  {o}");
            }
            Err(e) => println!("{s}  =>  ERR {e}"),
        }
    }
}
