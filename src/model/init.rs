//! Weight initialisation schemes (docs/DESIGN.md §Init) and the seeded random source shared by every engine.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The seeded random source: the same seed gives the same bits on every machine.
pub type SeededRng = ChaCha8Rng;

/// A random source for one purpose (`stream`), derived from the user's seed so that changing, say, the
/// activation does not change the weights and the data does not depend on the width.
pub fn rng_for(seed: u64, stream: u64) -> SeededRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Draws one standard normal sample.
pub fn normal(rng: &mut SeededRng) -> f64 {
    StandardNormal.sample(rng)
}

/// Draws one uniform sample in [-a, a).
pub fn uniform(rng: &mut SeededRng, a: f64) -> f64 {
    rng.random_range(-1.0..1.0) * a
}

/// A weight initialisation scheme; `gain` multiplies its scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// U(±g·sqrt(6/(in+out))), Glorot & Bengio 2010.
    XavierUniform,
    /// N(0, g²·2/(in+out)).
    XavierNormal,
    /// N(0, g²·2/in), He et al. 2015.
    HeNormal,
    /// U(±g·sqrt(6/in)).
    HeUniform,
    /// N(0, g²/in).
    LecunNormal,
    /// g·Q with Q (semi-)orthogonal, Saxe et al. 2014.
    Orthogonal,
    /// U(±g/sqrt(in)): Glorot & Bengio's "standard" init, PyTorch's Linear default.
    UniformClassic,
    /// N(0, g²).
    Normal,
}

impl Init {
    /// Every scheme, in the order the UI lists them.
    pub const ALL: [Init; 8] = [
        Init::XavierUniform,
        Init::XavierNormal,
        Init::HeNormal,
        Init::HeUniform,
        Init::LecunNormal,
        Init::Orthogonal,
        Init::UniformClassic,
        Init::Normal,
    ];

    /// The CLI/TOML name.
    pub fn name(self) -> &'static str {
        match self {
            Init::XavierUniform => "xavier-uniform",
            Init::XavierNormal => "xavier-normal",
            Init::HeNormal => "he-normal",
            Init::HeUniform => "he-uniform",
            Init::LecunNormal => "lecun-normal",
            Init::Orthogonal => "orthogonal",
            Init::UniformClassic => "uniform-classic",
            Init::Normal => "normal",
        }
    }

    /// The variance of one weight for a layer with `fan_in` inputs and `fan_out` outputs, at gain `gain`.
    /// For orthogonal init it is the mean square entry of g·Q, g²/max(in, out) (g²/n for square matrices).
    pub fn weight_variance(self, fan_in: usize, fan_out: usize, gain: f64) -> f64 {
        let (i, o) = (fan_in as f64, fan_out as f64);
        let g2 = gain * gain;
        match self {
            Init::XavierUniform | Init::XavierNormal => g2 * 2.0 / (i + o),
            Init::HeNormal | Init::HeUniform => g2 * 2.0 / i,
            Init::LecunNormal => g2 / i,
            Init::Orthogonal => g2 / i.max(o),
            Init::UniformClassic => g2 / (3.0 * i),
            Init::Normal => g2,
        }
    }

    /// Draws a `fan_out x fan_in` weight matrix (row-major, one row per output unit).
    pub fn sample(self, fan_out: usize, fan_in: usize, gain: f64, rng: &mut SeededRng) -> Vec<f64> {
        let n = fan_out * fan_in;
        let (i, o) = (fan_in as f64, fan_out as f64);
        match self {
            Init::XavierUniform => (0..n)
                .map(|_| uniform(rng, gain * (6.0 / (i + o)).sqrt()))
                .collect(),
            Init::XavierNormal => (0..n)
                .map(|_| normal(rng) * gain * (2.0 / (i + o)).sqrt())
                .collect(),
            Init::HeNormal => (0..n)
                .map(|_| normal(rng) * gain * (2.0 / i).sqrt())
                .collect(),
            Init::HeUniform => (0..n)
                .map(|_| uniform(rng, gain * (6.0 / i).sqrt()))
                .collect(),
            Init::LecunNormal => (0..n).map(|_| normal(rng) * gain / i.sqrt()).collect(),
            Init::UniformClassic => (0..n).map(|_| uniform(rng, gain / i.sqrt())).collect(),
            Init::Normal => (0..n).map(|_| normal(rng) * gain).collect(),
            Init::Orthogonal => {
                let mut q = orthogonal(fan_out, fan_in, rng);
                q.iter_mut().for_each(|v| *v *= gain);
                q
            }
        }
    }
}

impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A random `rows x cols` matrix with orthonormal rows (rows <= cols) or orthonormal columns (rows > cols),
/// from modified Gram-Schmidt on a Gaussian matrix (Haar-distributed up to the sign convention).
pub fn orthogonal(rows: usize, cols: usize, rng: &mut SeededRng) -> Vec<f64> {
    let (short, long) = (rows.min(cols), rows.max(cols));
    // `short` orthonormal vectors of length `long`
    let mut v: Vec<Vec<f64>> = (0..short)
        .map(|_| (0..long).map(|_| normal(rng)).collect())
        .collect();
    for k in 0..short {
        for j in 0..k {
            let (done, rest) = v.split_at_mut(k);
            let d: f64 = done[j].iter().zip(&rest[0]).map(|(a, b)| a * b).sum();
            rest[0]
                .iter_mut()
                .zip(&done[j])
                .for_each(|(x, q)| *x -= d * q);
        }
        let norm = v[k].iter().map(|x| x * x).sum::<f64>().sqrt();
        v[k].iter_mut().for_each(|x| *x /= norm);
    }
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[r * cols + c] = if rows <= cols { v[r][c] } else { v[c][r] };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_is_orthogonal() {
        let mut rng = rng_for(3, 0);
        for (r, c) in [(8, 8), (4, 9), (9, 4)] {
            let q = orthogonal(r, c, &mut rng);
            let (short, rows_are_basis) = (r.min(c), r <= c);
            for a in 0..short {
                for b in 0..short {
                    let dot: f64 = if rows_are_basis {
                        (0..c).map(|k| q[a * c + k] * q[b * c + k]).sum()
                    } else {
                        (0..r).map(|k| q[k * c + a] * q[k * c + b]).sum()
                    };
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn sample_variances_match_formula() {
        let mut rng = rng_for(1, 0);
        for init in Init::ALL {
            let (o, i) = (200, 300);
            let w = init.sample(o, i, 1.3, &mut rng);
            let var = w.iter().map(|x| x * x).sum::<f64>() / w.len() as f64;
            let want = init.weight_variance(i, o, 1.3);
            assert!((var / want - 1.0).abs() < 0.03, "{init}: {var} vs {want}");
        }
    }
}
