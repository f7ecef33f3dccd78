//! The Jacobian of the last hidden layer with respect to the input (or to the first hidden layer) for one
//! sample, at the engine's current weights, in f64; and its singular values (the Jacobian spectrum view).
//!
//! Dynamical isometry (Saxe et al. 2014, Pennington et al. 2017): when all singular values of this
//! Jacobian stay near 1, every direction of the signal passes through the depth unchanged. Orthogonal
//! init with a linear activation gives exactly that; tanh with orthogonal weights near gain 1 stays close;
//! Gaussian ReLU nets spread the singular values over orders of magnitude as depth grows.
//!
//! Cost: depth × width³ (a chain of dense products), so the view is limited to width <=
//! [`MAX_JACOBIAN_WIDTH`] and depth <= [`MAX_JACOBIAN_DEPTH`].

use super::Reference;
use crate::model::Arch;
use crate::theory::spectral::{SpectralError, singular_values};

/// Widest net whose Jacobian is computed (one SVD of a width × width matrix, depth products of that size).
pub const MAX_JACOBIAN_WIDTH: usize = 256;
/// Deepest net (MLP layers or RNN time steps) whose Jacobian is computed.
pub const MAX_JACOBIAN_DEPTH: usize = 256;

/// Which Jacobian of the last hidden layer (a_L for the MLP, h_T for the RNN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JacobianSpan {
    /// ∂a_L/∂x (MLP) or ∂h_T/∂x_1 (RNN): `width x d_in`, at most d_in singular values.
    FromInput,
    /// ∂a_L/∂a_1 (MLP, through layers 2..L) or ∂h_T/∂h_1 (RNN, through steps 2..T): square `width x width`,
    /// the product of the square layers' D_l·W_l (plus the identity per residual layer). The identity for
    /// depth 1.
    FromFirstHidden,
}

/// A dense Jacobian, row-major (`rows` outputs of the last hidden layer, `cols` inputs).
#[derive(Clone, Debug, PartialEq)]
pub struct Jacobian {
    /// Rows: the last hidden layer's units.
    pub rows: usize,
    /// Columns: input features or first-hidden-layer units.
    pub cols: usize,
    /// Entries, `rows x cols` row-major: `data[i * cols + j] = ∂out_i / ∂in_j`.
    pub data: Vec<f64>,
}

/// The Jacobian cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JacobianError {
    /// The net is beyond the stated limits.
    #[error(
        "the Jacobian spectrum is limited to width <= {MAX_JACOBIAN_WIDTH} and depth <= {MAX_JACOBIAN_DEPTH} (this net: width {width}, depth {depth})"
    )]
    TooLarge {
        /// The net's width.
        width: usize,
        /// The net's depth (time steps for the RNN).
        depth: usize,
    },
    /// The sample index is not in the batch.
    #[error("sample {sample} is outside the batch of {batch}")]
    Sample {
        /// The index asked for.
        sample: usize,
        /// The batch size.
        batch: usize,
    },
    /// The singular value decomposition failed (NaN weights, no convergence).
    #[error(transparent)]
    Spectral(#[from] SpectralError),
    /// A gated cell (LSTM, GRU): this view covers MLPs and the vanilla RNN.
    #[error(
        "the Jacobian spectrum covers MLPs and the vanilla RNN; for an {} the Cell path view shows where the error goes",
        .0.name().to_uppercase()
    )]
    GatedCell(crate::model::Cell),
    /// A normalized MLP: a norm couples a layer's units (LayerNorm) or the batch (BatchNorm), which the
    /// chain here does not model.
    #[error(
        "the Jacobian spectrum covers nets without a norm layer (a norm couples the units or the batch); turn the norm off to see it"
    )]
    Normalized,
}

/// `out = D · (W · J) [+ J]`: one layer of the chain. `w` is `n_out x n_in` row-major, `j` is `n_in x cols`,
/// `d` the n_out derivatives; `skip` adds `j` (then n_out = n_in).
fn chain_step(w: &[f64], d: &[f64], j: &[f64], n_in: usize, cols: usize, skip: bool) -> Vec<f64> {
    let n_out = d.len();
    let mut out = vec![0.0; n_out * cols];
    for r in 0..n_out {
        let row = &mut out[r * cols..(r + 1) * cols];
        for k in 0..n_in {
            let wrk = w[r * n_in + k];
            if wrk != 0.0 {
                row.iter_mut()
                    .zip(&j[k * cols..(k + 1) * cols])
                    .for_each(|(o, jv)| *o += wrk * jv);
            }
        }
        row.iter_mut().for_each(|o| *o *= d[r]);
        if skip {
            row.iter_mut()
                .zip(&j[r * cols..(r + 1) * cols])
                .for_each(|(o, jv)| *o += jv);
        }
    }
    out
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    (0..n).for_each(|i| m[i * n + i] = 1.0);
    m
}

/// `w · v + b` for a row-major `rows x v.len()` matrix.
fn affine(w: &[f64], v: &[f64], b: &[f64]) -> Vec<f64> {
    let n = v.len();
    b.iter()
        .enumerate()
        .map(|(r, bv)| {
            bv + w[r * n..(r + 1) * n]
                .iter()
                .zip(v)
                .map(|(a, x)| a * x)
                .sum::<f64>()
        })
        .collect()
}

/// The Jacobian of the last hidden layer for sample `sample` of the engine's batch at its current weights.
pub fn jacobian(
    engine: &Reference,
    sample: usize,
    span: JacobianSpan,
) -> Result<Jacobian, JacobianError> {
    let cfg = engine.config();
    if cfg.cell.is_gated() {
        return Err(JacobianError::GatedCell(cfg.cell));
    }
    if cfg.norm != crate::model::Norm::None {
        return Err(JacobianError::Normalized);
    }
    let (width, depth) = (cfg.width, cfg.depth);
    if width > MAX_JACOBIAN_WIDTH || depth > MAX_JACOBIAN_DEPTH {
        return Err(JacobianError::TooLarge { width, depth });
    }
    let data = engine.data();
    if sample >= data.batch {
        return Err(JacobianError::Sample {
            sample,
            batch: data.batch,
        });
    }
    let d_in = data.d_in;
    let act = cfg.activation;
    let p = engine.params();
    let x_at = |t: usize| -> Vec<f64> {
        let start = (t * data.batch + sample) * d_in;
        data.x[start..start + d_in]
            .iter()
            .map(|&v| f64::from(v))
            .collect()
    };
    let (mut j, cols) = match span {
        JacobianSpan::FromInput => (identity(d_in), d_in),
        JacobianSpan::FromFirstHidden => (identity(width), width),
    };
    match cfg.arch {
        Arch::Mlp => {
            let mut a = x_at(0);
            for l in 1..=depth {
                let (w, b) = (&p[2 * (l - 1)], &p[2 * (l - 1) + 1]);
                let z = affine(w, &a, b);
                let skip = cfg.residual && l >= 2;
                let d: Vec<f64> = z.iter().map(|&v| act.df(v)).collect();
                let n_in = a.len();
                if span == JacobianSpan::FromInput || l >= 2 {
                    j = chain_step(w, &d, &j, n_in, cols, skip);
                }
                let mut next: Vec<f64> = z.iter().map(|&v| act.f(v)).collect();
                if skip {
                    next.iter_mut().zip(&a).for_each(|(n, prev)| *n += prev);
                }
                a = next;
            }
        }
        Arch::Rnn => {
            let (w_x, w_h, b) = (&p[0], &p[1], &p[2]);
            let no_bias = vec![0.0; width];
            let mut h = vec![0.0; width];
            for t in 1..=depth {
                let mut z = affine(w_x, &x_at(t - 1), b);
                z.iter_mut()
                    .zip(affine(w_h, &h, &no_bias))
                    .for_each(|(zv, r)| *zv += r);
                let d: Vec<f64> = z.iter().map(|&v| act.df(v)).collect();
                if t == 1 {
                    if span == JacobianSpan::FromInput {
                        j = chain_step(w_x, &d, &j, d_in, cols, false);
                    }
                } else {
                    j = chain_step(w_h, &d, &j, width, cols, false);
                }
                h = z.iter().map(|&v| act.f(v)).collect();
            }
        }
    }
    Ok(Jacobian {
        rows: width,
        cols,
        data: j,
    })
}

/// The singular values of [`jacobian`], largest first (min(width, cols) of them).
pub fn jacobian_singular_values(
    engine: &Reference,
    sample: usize,
    span: JacobianSpan,
) -> Result<Vec<f64>, JacobianError> {
    let j = jacobian(engine, sample, span)?;
    Ok(singular_values(&j.data, j.rows, j.cols)?)
}
