//! Spectral readouts of a square weight matrix: the spectral radius (largest |eigenvalue|, which sets how a
//! linear recurrence `h_t = W h_{t-1}` grows or decays over many steps) and the spectral norm (largest
//! singular value, the most one step can stretch a vector), plus the rescaling the RNN init uses.
//!
//! Matrices are square, row-major, `n x n`, in f32 or f64; everything is computed in f64 with nalgebra
//! (real Schur form for the eigenvalues of a nonsymmetric matrix, SVD for the singular values).
//!
//! This module depends on nothing else in the crate; [`crate::model`] uses it at init and
//! [`crate::theory`] re-exports it.

use nalgebra::{DMatrix, SVD, Schur};

/// Iteration cap of the Schur and SVD solvers (they normally converge in a few iterations per eigenvalue).
const MAX_ITERATIONS: usize = 100_000;

/// A matrix the spectral functions cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpectralError {
    /// The slice length is not `n * n` (or `n` is 0).
    #[error("expected a non-empty square matrix of {n} x {n} = {expected} entries, got {got}")]
    Shape {
        /// The side length asked for.
        n: usize,
        /// `n * n`.
        expected: usize,
        /// The slice length.
        got: usize,
    },
    /// An entry is NaN or infinite.
    #[error("the matrix has a NaN or infinite entry (the weights exploded)")]
    NonFinite,
    /// The eigenvalue or singular value iteration did not converge.
    #[error("the {0} solver did not converge")]
    NoConvergence(&'static str),
    /// The target spectral radius is not a finite number > 0.
    #[error("target spectral radius {0} is not a finite number > 0")]
    BadTarget(f64),
    /// The matrix has spectral radius 0 (nilpotent, e.g. all zeros), so no scaling reaches the target.
    #[error("the matrix has spectral radius 0 (it is nilpotent); no scaling gives it radius {0}")]
    ZeroRadius(f64),
}

/// The `n x n` row-major slice as an f64 nalgebra matrix, after checking shape and finiteness.
fn to_matrix<T: Copy + Into<f64>>(w: &[T], n: usize) -> Result<DMatrix<f64>, SpectralError> {
    let expected = n.saturating_mul(n);
    if n == 0 || w.len() != expected {
        return Err(SpectralError::Shape {
            n,
            expected,
            got: w.len(),
        });
    }
    let data: Vec<f64> = w.iter().map(|&v| v.into()).collect();
    if data.iter().any(|v| !v.is_finite()) {
        return Err(SpectralError::NonFinite);
    }
    Ok(DMatrix::from_row_slice(n, n, &data))
}

/// The eigenvalues of a square row-major `n x n` matrix as `(re, im)` pairs, in no particular order
/// (complex ones come in conjugate pairs).
pub fn eigenvalues<T: Copy + Into<f64>>(
    w: &[T],
    n: usize,
) -> Result<Vec<(f64, f64)>, SpectralError> {
    let m = to_matrix(w, n)?;
    if n == 1 {
        return Ok(vec![(m[(0, 0)], 0.0)]);
    }
    let schur = Schur::try_new(m, f64::EPSILON, MAX_ITERATIONS)
        .ok_or(SpectralError::NoConvergence("Schur"))?;
    Ok(schur
        .complex_eigenvalues()
        .iter()
        .map(|c| (c.re, c.im))
        .collect())
}

/// The spectral radius `max |λ_i|` of a square row-major `n x n` matrix (eigenvalues of the nonsymmetric
/// matrix, complex ones included).
pub fn spectral_radius<T: Copy + Into<f64>>(w: &[T], n: usize) -> Result<f64, SpectralError> {
    Ok(eigenvalues(w, n)?
        .into_iter()
        .map(|(re, im)| re.hypot(im))
        .fold(0.0, f64::max))
}

/// The singular values of a row-major `rows x cols` matrix, largest first.
pub fn singular_values<T: Copy + Into<f64>>(
    w: &[T],
    rows: usize,
    cols: usize,
) -> Result<Vec<f64>, SpectralError> {
    let expected = rows.saturating_mul(cols);
    if rows == 0 || cols == 0 || w.len() != expected {
        return Err(SpectralError::Shape {
            n: rows.max(cols),
            expected,
            got: w.len(),
        });
    }
    let data: Vec<f64> = w.iter().map(|&v| v.into()).collect();
    if data.iter().any(|v| !v.is_finite()) {
        return Err(SpectralError::NonFinite);
    }
    let m = DMatrix::from_row_slice(rows, cols, &data);
    let svd = SVD::try_new(m, false, false, f64::EPSILON, MAX_ITERATIONS)
        .ok_or(SpectralError::NoConvergence("SVD"))?;
    let mut s: Vec<f64> = svd.singular_values.iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    Ok(s)
}

/// The spectral norm (largest singular value) of a square row-major `n x n` matrix; always at least the
/// spectral radius, equal to it for normal matrices (symmetric, orthogonal times a scalar, ...).
pub fn spectral_norm<T: Copy + Into<f64>>(w: &[T], n: usize) -> Result<f64, SpectralError> {
    to_matrix(w, n)?;
    Ok(singular_values(w, n, n)?.first().copied().unwrap_or(0.0))
}

/// Scales the square row-major `n x n` matrix `w` in place so its spectral radius becomes `rho`; returns the
/// radius it had before. Scaling by c scales every eigenvalue by c, so the result hits `rho` to rounding.
pub fn rescale_to_spectral_radius(w: &mut [f64], n: usize, rho: f64) -> Result<f64, SpectralError> {
    if !(rho.is_finite() && rho > 0.0) {
        return Err(SpectralError::BadTarget(rho));
    }
    let before = spectral_radius(w, n)?;
    // relative to the largest entry: below this the "eigenvalues" are rounding noise of a nilpotent matrix
    let max_abs = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if before <= max_abs * n as f64 * 1e-13 || before == 0.0 {
        return Err(SpectralError::ZeroRadius(rho));
    }
    let c = rho / before;
    w.iter_mut().for_each(|v| *v *= c);
    Ok(before)
}

/// The spectral prediction for a linear recurrence over `steps` time steps: log10 of
/// ‖δ_t‖ / ‖δ_T‖ = ρ^(T-t) for t = 1..=T (input to output, like the statistics' layers), i.e.
/// `(T - t) · log10 ρ`. Exact for `W_h = ρ·Q` with Q orthogonal and a linear activation; for a general
/// matrix it is the asymptotic rate (transients of non-normal matrices and f' < 1 come on top).
/// `None` where it is undefined (ρ = 0 or not finite, below the top step).
pub fn spectral_decay_line(rho: f64, steps: usize) -> Vec<Option<f64>> {
    let l = rho.log10();
    (1..=steps)
        .map(|t| {
            let k = steps - t;
            if k == 0 {
                Some(0.0)
            } else {
                (rho.is_finite() && rho > 0.0).then_some(k as f64 * l)
            }
        })
        .collect()
}
