//! Small dense f64 matrix products (row-major) for the reference engine.

/// `A (m x k) · Bᵀ` with `B (n x k)`: the layer forward `a W^T`.
pub fn matmul_nt(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        let ar = &a[i * k..(i + 1) * k];
        for j in 0..n {
            let br = &b[j * k..(j + 1) * k];
            c[i * n + j] = ar.iter().zip(br).map(|(x, y)| x * y).sum();
        }
    }
    c
}

/// `A (m x k) · B (k x n)`: the backward `δ W`.
pub fn matmul_nn(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        let cr = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let av = a[i * k + p];
            cr.iter_mut()
                .zip(&b[p * n..(p + 1) * n])
                .for_each(|(c, b)| *c += av * b);
        }
    }
    c
}

/// `Aᵀ · B` with `A (k x m)`, `B (k x n)`: the weight gradient `δᵀ a`.
pub fn matmul_tn(a: &[f64], b: &[f64], k: usize, m: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for p in 0..k {
        let br = &b[p * n..(p + 1) * n];
        for i in 0..m {
            let av = a[p * m + i];
            c[i * n..(i + 1) * n]
                .iter_mut()
                .zip(br)
                .for_each(|(c, b)| *c += av * b);
        }
    }
    c
}
