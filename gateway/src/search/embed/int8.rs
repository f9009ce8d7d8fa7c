//! Dense layers with 8-bit weights, for inputs of a few rows (a search query is about ten tokens).
//!
//! Why not the general matrix product: for so few rows a GEMM library spends much of its time
//! packing each weight matrix into its own layout on every call, and even unpacked, 32-bit
//! products at this size run at ~37 G multiply-adds per second on one core of our machines. With
//! the weights held as `i8` (packed once, at load, in the kernel's order) and each input row
//! quantized on the fly, the products are integer multiply-adds: a quarter of the memory traffic
//! (MiniLM's dense layers are 42 MB as `f32`, 10.6 MB as `i8`) and, with AVX-512 VNNI, 64
//! multiply-adds per instruction.
//!
//! Precision: weights and inputs have one scale per block of 32 values, because BERT's
//! activations have a few large values per token that a single scale per row would let swamp the
//! rest. Simulated in numpy on short texts, the lowest cosine to the 32-bit vectors was 0.9945
//! with one scale per row (weights) and per 64 values (inputs), 0.9972 with blocks of 64 for both
//! and 0.9983 with blocks of 32 (an empty query is the worst case: two tokens, nothing averages).
//!
//! `unsafe` here (one of the workspace's exceptions, see docs/architecture.md): the AVX-512 VNNI
//! kernel, whose vector loads read 64-byte slices and which is called after checking at run time
//! that the CPU has VNNI. Other CPUs run the plain-Rust kernel through [`crate::search::simd`].

use crate::search::quantize::quantize_into;

/// Values per scale (weights and inputs).
const BLOCK: usize = 32;
/// Outputs computed together: one AVX-512 register of `i32`/`f32` lanes.
const LANES: usize = 16;
/// At most this many input rows are computed together: each pass over a weight matrix serves
/// them all (the weights are read from cache once per pass), and their independent accumulators
/// let the multiply-adds overlap. Two registers per row, 32 registers in all.
const ROWS: usize = 8;

/// A dense layer (`y = x W^T + b`) with 8-bit weights.
///
/// The weights are packed for the kernel: outputs in groups of [`LANES`], and within a group,
/// for each 4 consecutive inputs, the 4 weights of each of the 16 outputs side by side (64
/// bytes). One VNNI instruction then multiplies 4 inputs (broadcast) with them and adds each
/// output's 4 products into its own lane: 16 outputs advance at once and no lane ever needs
/// summing across.
pub(crate) struct Int8Dense {
    inputs: usize,
    outputs: usize,
    /// Inputs zero-padded to whole blocks.
    padded: usize,
    /// `groups × (padded / 4) × LANES × 4` weights (outputs padded to whole groups with zeros).
    packed: Vec<i8>,
    /// Per group, block and lane (output): the value of one weight step.
    scales: Vec<f32>,
    /// Per group, block and lane: 128 × the block's weights summed × its step (the VNNI kernel
    /// multiplies unsigned bytes, the inputs plus 128, and takes this back off).
    offsets: Vec<f32>,
    /// Per output, padded with zeros to whole groups: the kernels start each sum from it.
    bias: Vec<f32>,
}

/// Input rows quantized per block: `i8` values and one step per block.
struct QuantizedRows {
    values: Vec<i8>,
    steps: Vec<f32>,
    rows: usize,
}

impl Int8Dense {
    /// Quantizes a row-major `outputs × inputs` weight matrix (PyTorch's `Linear` layout).
    pub(crate) fn new(weights: &[f32], outputs: usize, inputs: usize, mut bias: Vec<f32>) -> Self {
        debug_assert_eq!(weights.len(), outputs * inputs);
        debug_assert_eq!(bias.len(), outputs);
        bias.resize(outputs.div_ceil(LANES) * LANES, 0.0);
        let padded = inputs.div_ceil(BLOCK) * BLOCK;
        let groups = outputs.div_ceil(LANES);
        let blocks = padded / BLOCK;
        let mut packed = vec![0i8; groups * LANES * padded];
        let mut scales = vec![0f32; groups * blocks * LANES];
        let mut offsets = vec![0f32; scales.len()];
        let mut row = vec![0i8; padded];
        for (j, weights) in weights.chunks_exact(inputs).enumerate() {
            let (g, lane) = (j / LANES, j % LANES);
            row.fill(0);
            for (b, block) in row.chunks_exact_mut(BLOCK).enumerate() {
                let end = ((b + 1) * BLOCK).min(inputs);
                let part = &weights[b * BLOCK..end];
                let step = quantize_into(part, &mut block[..part.len()]);
                let sum: i32 = block.iter().map(|&w| i32::from(w)).sum();
                let at = (g * blocks + b) * LANES + lane;
                scales[at] = step;
                offsets[at] = 128.0 * sum as f32 * step;
            }
            for (k4, quad) in row.chunks_exact(4).enumerate() {
                let at = ((g * padded / 4 + k4) * LANES + lane) * 4;
                packed[at..at + 4].copy_from_slice(quad);
            }
        }
        Self {
            inputs,
            outputs,
            padded,
            packed,
            scales,
            offsets,
            bias,
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.packed.len() + 4 * (self.scales.len() + self.offsets.len() + self.bias.len())
    }

    fn groups(&self) -> usize {
        self.outputs.div_ceil(LANES)
    }

    #[inline]
    fn quantize_rows(&self, x: &[f32]) -> QuantizedRows {
        let rows = x.len() / self.inputs;
        let blocks = self.padded / BLOCK;
        let mut values = vec![0i8; rows * self.padded];
        let mut steps = Vec::with_capacity(rows * blocks);
        for (row, out) in x
            .chunks_exact(self.inputs)
            .zip(values.chunks_exact_mut(self.padded))
        {
            for (b, out) in out.chunks_exact_mut(BLOCK).enumerate() {
                let end = ((b + 1) * BLOCK).min(self.inputs);
                let part = &row[b * BLOCK..end];
                steps.push(quantize_into(part, &mut out[..part.len()]));
            }
        }
        QuantizedRows {
            values,
            steps,
            rows,
        }
    }

    /// `y = x W^T + b` for each row of `x` (`x.len() / inputs` rows); `y` is resized to fit.
    #[inline]
    pub(crate) fn forward(&self, x: &[f32], y: &mut Vec<f32>) {
        let q = self.quantize_rows(x);
        let width = self.groups() * LANES;
        y.clear();
        y.resize(q.rows * width, 0.0);
        products(&q, self, y);
        if width != self.outputs {
            // Outputs padded to a whole group: close the gaps between rows.
            for r in 1..q.rows {
                y.copy_within(r * width..r * width + self.outputs, r * self.outputs);
            }
            y.truncate(q.rows * self.outputs);
        }
    }
}

/// Whether this CPU runs the AVX-512 VNNI kernel.
fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Which kernel [`products`] runs on this CPU (for benchmarks and logs).
pub(crate) fn kernel() -> &'static str {
    if has_vnni() {
        "avx512-vnni"
    } else {
        crate::search::simd::instruction_set()
    }
}

/// `out[r * width + j] = bias_j + Σ_blocks step(x_r, b) · step(w_j, b) · (x_r · w_j over block b)`
/// (`width` = outputs padded to whole groups). Uses the widest instruction set the CPU has.
fn products(x: &QuantizedRows, w: &Int8Dense, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_vnni() {
        return vnni::products(x, w, out);
    }
    crate::search::simd::widest(
        #[inline(always)]
        || products_portable(x, w, out),
    )
}

/// The kernel in plain Rust over the packed layout (the compiler vectorizes across the 16
/// lanes; integer sums may be reordered, so it needs no hint).
#[inline(always)]
fn products_portable(x: &QuantizedRows, w: &Int8Dense, out: &mut [f32]) {
    let blocks = w.padded / BLOCK;
    let width = w.groups() * LANES;
    for (g, panel) in w.packed.chunks_exact(w.padded * LANES).enumerate() {
        for r in 0..x.rows {
            let xr = &x.values[r * w.padded..][..w.padded];
            let mut acc = [0f32; LANES];
            acc.copy_from_slice(&w.bias[g * LANES..][..LANES]);
            for b in 0..blocks {
                let mut dot = [0i32; LANES];
                for k4 in b * BLOCK / 4..(b + 1) * BLOCK / 4 {
                    let xq = &xr[k4 * 4..k4 * 4 + 4];
                    let wq = &panel[k4 * LANES * 4..(k4 + 1) * LANES * 4];
                    for (d, wl) in dot.iter_mut().zip(wq.chunks_exact(4)) {
                        for (a, c) in xq.iter().zip(wl) {
                            *d += i32::from(*a) * i32::from(*c);
                        }
                    }
                }
                let step = x.steps[r * blocks + b];
                let scales = &w.scales[(g * blocks + b) * LANES..][..LANES];
                for ((a, d), s) in acc.iter_mut().zip(dot).zip(scales) {
                    *a += d as f32 * step * s;
                }
            }
            out[r * width + g * LANES..][..LANES].copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod vnni {
    use std::arch::x86_64::*;

    use super::{BLOCK, Int8Dense, LANES, QuantizedRows, ROWS};

    /// [`super::products`] with AVX-512 VNNI: `vpdpbusd` multiplies 4 broadcast input bytes by
    /// 16 outputs' 4 weights and adds into each output's lane. It multiplies unsigned by signed
    /// bytes, so the inputs go in shifted by 128 and `Int8Dense::offsets` takes that back off.
    /// Only called after the run-time check in `super::products`.
    pub(super) fn products(x: &QuantizedRows, w: &Int8Dense, out: &mut [f32]) {
        // Each 4 inputs, shifted to unsigned, as the one 32-bit value the kernel broadcasts.
        let quads: Vec<i32> = x
            .values
            .chunks_exact(4)
            .map(|q| i32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]) ^ FLIP)
            .collect();
        // As few passes as possible, with the rows spread evenly over them (9 rows: 5 + 4).
        let passes = x.rows.div_ceil(ROWS);
        let mut r = 0;
        for pass in 0..passes {
            let n = x.rows / passes + usize::from(pass < x.rows % passes);
            // SAFETY: `super::products` checked that the CPU has AVX-512F/BW/VNNI, the features
            // the kernels are compiled for.
            unsafe {
                match n {
                    8 => kernel::<8>(&quads, x, r, w, out),
                    7 => kernel::<7>(&quads, x, r, w, out),
                    6 => kernel::<6>(&quads, x, r, w, out),
                    5 => kernel::<5>(&quads, x, r, w, out),
                    4 => kernel::<4>(&quads, x, r, w, out),
                    3 => kernel::<3>(&quads, x, r, w, out),
                    2 => kernel::<2>(&quads, x, r, w, out),
                    _ => kernel::<1>(&quads, x, r, w, out),
                }
            }
            r += n;
        }
    }

    /// Adds 128 to each of 4 signed bytes (two's complement: flips their top bits).
    const FLIP: i32 = 0x8080_8080_u32 as i32;

    /// Inputs (as 4-byte quads) per block.
    const QUADS: usize = BLOCK / 4;

    /// Rows `first..first + R` against every output group.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn kernel<const R: usize>(
        quads: &[i32],
        x: &QuantizedRows,
        first: usize,
        w: &Int8Dense,
        out: &mut [f32],
    ) {
        let blocks = w.padded / BLOCK;
        let width = w.groups() * LANES;
        let per_row = w.padded / 4;
        // The R rows' inputs interleaved (per block, per quad: one value per row) and their
        // steps (per block: one per row), so the inner loop reads them in order.
        let mut xs = vec![0i32; blocks * QUADS * R];
        let mut steps = vec![0f32; blocks * R];
        for i in 0..R {
            let row = &quads[(first + i) * per_row..][..per_row];
            for (k, &q) in row.iter().enumerate() {
                xs[k * R + i] = q;
            }
            for b in 0..blocks {
                steps[b * R + i] = x.steps[(first + i) * blocks + b];
            }
        }
        let (xs, _) = xs.as_chunks::<R>();
        let (steps, _) = steps.as_chunks::<R>();
        for (g, panel) in w.packed.chunks_exact(w.padded * LANES).enumerate() {
            let bias = &w.bias[g * LANES..][..LANES];
            // SAFETY: `bias` is exactly 16 floats, the size of the unaligned load.
            let mut acc = [unsafe { _mm512_loadu_ps(bias.as_ptr()) }; R];
            for (b, ((weights, xb), step)) in panel
                .chunks_exact(BLOCK * LANES)
                .zip(xs.chunks_exact(QUADS))
                .zip(steps)
                .enumerate()
            {
                let mut dot = [_mm512_setzero_si512(); R];
                for (wq, xq) in weights.chunks_exact(4 * LANES).zip(xb) {
                    // SAFETY: `wq` is exactly 64 bytes, the size of the unaligned load.
                    let wv = unsafe { _mm512_loadu_si512(wq.as_ptr().cast()) };
                    for (d, &xv) in dot.iter_mut().zip(xq) {
                        *d = _mm512_dpbusd_epi32(*d, _mm512_set1_epi32(xv), wv);
                    }
                }
                let at = (g * blocks + b) * LANES;
                let (scales, offsets) = (&w.scales[at..][..LANES], &w.offsets[at..][..LANES]);
                // SAFETY: both are exactly 16 floats, the size of the unaligned loads.
                let (scales, offsets) = unsafe {
                    (
                        _mm512_loadu_ps(scales.as_ptr()),
                        _mm512_loadu_ps(offsets.as_ptr()),
                    )
                };
                // acc += step · (dot · scale - offset): the input's step factored out, two
                // instructions per row after the conversion.
                for ((a, d), &st) in acc.iter_mut().zip(dot).zip(step) {
                    let block = _mm512_fmsub_ps(_mm512_cvtepi32_ps(d), scales, offsets);
                    *a = _mm512_fmadd_ps(block, _mm512_set1_ps(st), *a);
                }
            }
            for (i, a) in acc.iter().enumerate() {
                let o = &mut out[(first + i) * width + g * LANES..][..LANES];
                // SAFETY: `o` is exactly 16 floats, the size of the unaligned store.
                unsafe { _mm512_storeu_ps(o.as_mut_ptr(), *a) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], w: &[f32], b: &[f32], inputs: usize) -> Vec<f32> {
        let mut y = Vec::new();
        for xr in x.chunks_exact(inputs) {
            for (wj, bj) in w.chunks_exact(inputs).zip(b) {
                y.push(xr.iter().zip(wj).map(|(a, c)| a * c).sum::<f32>() + bj);
            }
        }
        y
    }

    /// Deterministic values with both signs, a spread of magnitudes and one outlier per row.
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let v = ((i * seed % 101) as f32 - 50.0) / 50.0;
                if i % 97 == 5 { v * 20.0 } else { v }
            })
            .collect()
    }

    #[test]
    fn products_match_floats_within_the_quantization_step() {
        // 150 inputs: two whole blocks and a padded one.
        let (inputs, outputs, rows) = (150, 40, 3);
        let w = values(inputs * outputs, 37);
        let x = values(inputs * rows, 53);
        let b: Vec<f32> = (0..outputs).map(|i| i as f32 * 0.1).collect();
        let dense = Int8Dense::new(&w, outputs, inputs, b.clone());
        let mut y = Vec::new();
        dense.forward(&x, &mut y);
        let want = reference(&x, &w, &b, inputs);
        assert_eq!(y.len(), want.len());
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (got, want) in y.iter().zip(&want) {
            assert!((got - want).abs() <= 0.01 * scale, "{got} vs {want}");
        }
    }

    #[test]
    fn the_fastest_kernel_agrees_with_the_portable_one() {
        // 11 rows: two passes (6 and 5 rows); 200 inputs: six whole blocks and a padded one.
        let (inputs, outputs, rows) = (200, 9, 11);
        let dense = Int8Dense::new(
            &values(inputs * outputs, 29),
            outputs,
            inputs,
            (0..outputs).map(|j| j as f32 - 4.0).collect(),
        );
        let q = dense.quantize_rows(&values(inputs * rows, 61));
        let width = dense.groups() * LANES;
        let (mut portable, mut best) = (vec![0f32; rows * width], vec![0f32; rows * width]);
        products_portable(&q, &dense, &mut portable);
        products(&q, &dense, &mut best);
        for (a, b) in portable.iter().zip(&best) {
            assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn an_all_zero_row_stays_zero() {
        let dense = Int8Dense::new(&[0.0; 8], 2, 4, vec![1.0, -1.0]);
        let mut y = Vec::new();
        dense.forward(&[0.0; 4], &mut y);
        assert_eq!(y, vec![1.0, -1.0]);
    }
}
