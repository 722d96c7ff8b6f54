//! `cargo xtask reproduce instruct-skillmix [--scale smoke|mini|paper] [--seed S --seeds N]`.

fn main() {
    shared::driver::main::<instruct_skillmix::InstructSkillMix>()
}
