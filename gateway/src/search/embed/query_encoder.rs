//! The encoder's forward pass for one text, without the tensor library: every search query and,
//! since 2026-12-07, every catalog text.
//!
//! Why a second forward pass: a query arrives with every `search` call that the query-vector
//! cache has not seen, and is about ten tokens long. For that shape the tensor library's fixed
//! costs dominate (per-operation allocation and dispatch, thread-pool wake-ups, packing each weight
//! matrix before multiplying), and the measured time per query was ~10 ms on an idle core. Here
//! the same BERT computation runs as plain loops over `Vec<f32>` rows, with the dense layers in
//! 8 bits ([`Int8Dense`]). Tool texts are short too (a name and a sentence), and through this path
//! one at a time they embed ~2.7× as fast as in the tensor library's 32-bit batches, which stay
//! as the reference computation ([`super::local::BertEncoder::embed_reference`]).
//!
//! The vectors differ from the 32-bit ones by the quantization: `bench/search-results.md` gives
//! the cosine to them and the ranking quality with them; the gateway tests check the cosine
//! against an independent implementation.

use candle_core::Tensor;

use super::int8::Int8Dense;

/// Layer normalisation parameters.
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn from(norm: &candle_nn::LayerNorm) -> candle_core::Result<Self> {
        Ok(Self {
            weight: norm.weight().to_vec1()?,
            bias: norm
                .bias()
                .ok_or_else(|| candle_core::Error::Msg("a layer norm has no bias".into()))?
                .to_vec1()?,
            eps: norm.eps() as f32,
        })
    }

    /// Normalises each row of `x` in place.
    #[inline]
    fn apply(&self, x: &mut [f32]) {
        let width = self.weight.len();
        for row in x.chunks_exact_mut(width) {
            let mean = sum(row) / width as f32;
            row.iter_mut().for_each(|v| *v -= mean);
            let var = dot(row, row) / width as f32;
            let inv = 1.0 / (var + self.eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *v = *v * inv * w + b;
            }
        }
    }
}

fn int8(linear: &candle_nn::Linear) -> candle_core::Result<Int8Dense> {
    let (outputs, inputs) = linear.weight().dims2()?;
    let weights = linear.weight().flatten_all()?.to_vec1::<f32>()?;
    let bias = match linear.bias() {
        Some(b) => b.to_vec1()?,
        None => vec![0.0; outputs],
    };
    Ok(Int8Dense::new(&weights, outputs, inputs, bias))
}

/// One transformer layer.
struct Layer {
    /// Query, key and value projections as one matrix: each output row is `[q | k | v]`.
    qkv: Int8Dense,
    attention_out: Int8Dense,
    attention_norm: Norm,
    intermediate: Int8Dense,
    output: Int8Dense,
    output_norm: Norm,
}

/// What [`QueryEncoder::new`] takes from the loaded model.
pub(crate) struct Parts<'a> {
    pub words: &'a candle_nn::Embedding,
    pub positions: &'a candle_nn::Embedding,
    pub token_types: &'a candle_nn::Embedding,
    pub embeddings_norm: &'a candle_nn::LayerNorm,
    /// Per layer: query, key, value, attention output, intermediate, output; and the two norms.
    pub layers: Vec<([&'a candle_nn::Linear; 6], [&'a candle_nn::LayerNorm; 2])>,
    pub heads: usize,
    pub cls_pooling: bool,
}

pub(crate) struct QueryEncoder {
    /// The word embedding table, shared with the tensor path (the largest tensor: 47 MB).
    words: Tensor,
    positions: Vec<f32>,
    /// Token type 0 (all tokens of a single text).
    token_type: Vec<f32>,
    embeddings_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    cls_pooling: bool,
}

impl QueryEncoder {
    pub(crate) fn new(parts: Parts<'_>) -> candle_core::Result<Self> {
        let hidden = parts.words.hidden_size();
        let mut layers = Vec::with_capacity(parts.layers.len());
        for ([q, k, v, o, i, out], [attention_norm, output_norm]) in parts.layers {
            let qkv = candle_nn::Linear::new(
                Tensor::cat(&[q.weight(), k.weight(), v.weight()], 0)?,
                match (q.bias(), k.bias(), v.bias()) {
                    (Some(a), Some(b), Some(c)) => Some(Tensor::cat(&[a, b, c], 0)?),
                    _ => None,
                },
            );
            layers.push(Layer {
                qkv: int8(&qkv)?,
                attention_out: int8(o)?,
                attention_norm: Norm::from(attention_norm)?,
                intermediate: int8(i)?,
                output: int8(out)?,
                output_norm: Norm::from(output_norm)?,
            });
        }
        Ok(Self {
            words: parts.words.embeddings().clone(),
            positions: parts.positions.embeddings().flatten_all()?.to_vec1()?,
            token_type: parts.token_types.embeddings().get(0)?.to_vec1()?,
            embeddings_norm: Norm::from(parts.embeddings_norm)?,
            layers,
            hidden,
            heads: parts.heads,
            cls_pooling: parts.cls_pooling,
        })
    }

    /// Bytes of the 8-bit layers (what this path adds to the model's memory).
    pub(crate) fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|l| {
                l.qkv.bytes() + l.attention_out.bytes() + l.intermediate.bytes() + l.output.bytes()
            })
            .sum()
    }

    /// The pooled, unnormalised vector of one token sequence (at most the model's length).
    ///
    /// The loops here stay at the baseline instruction set: run inside
    /// [`crate::search::simd::widest`] the whole pass measured slower (1.9 against 1.5 ms per
    /// query); the products pick the wide registers themselves, and GELU over the intermediate
    /// layer, the one long elementwise loop, runs in them too (about 4% of a query). The
    /// reductions (attention scores, layer-norm sums) keep eight running sums so that they
    /// vectorize at all: with them and the quantization loop's rounding, a query went from 1.60
    /// to 1.14 ms on one core (2026-12-07, 1,000 queries, interleaved runs).
    pub(crate) fn encode(&self, ids: &[u32]) -> candle_core::Result<Vec<f32>> {
        let h = self.hidden;
        let n = ids.len().max(1);
        if n * h > self.positions.len() {
            candle_core::bail!("{n} tokens are more than the model's positions");
        }
        let ids = Tensor::new(
            if ids.is_empty() { &[0u32][..] } else { ids },
            self.words.device(),
        )?;
        let mut x = self
            .words
            .index_select(&ids, 0)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for (t, row) in x.chunks_exact_mut(h).enumerate() {
            let pos = &self.positions[t * h..(t + 1) * h];
            for ((v, p), ty) in row.iter_mut().zip(pos).zip(&self.token_type) {
                *v += p + ty;
            }
        }
        self.embeddings_norm.apply(&mut x);
        let (mut qkv, mut ctx, mut attended, mut inner, mut out) = (
            Vec::new(),
            vec![0f32; n * h],
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let mut scores = vec![0f32; n];
        let d = h / self.heads;
        let scale = 1.0 / (d as f32).sqrt();
        for layer in &self.layers {
            layer.qkv.forward(&x, &mut qkv);
            ctx.fill(0.0);
            for head in 0..self.heads {
                let at = |t: usize, part: usize| {
                    let start = t * 3 * h + part * h + head * d;
                    &qkv[start..start + d]
                };
                for i in 0..n {
                    let q = at(i, 0);
                    for (j, s) in scores.iter_mut().enumerate() {
                        *s = dot(q, at(j, 1)) * scale;
                    }
                    softmax(&mut scores);
                    let c = &mut ctx[i * h + head * d..i * h + (head + 1) * d];
                    for (j, p) in scores.iter().enumerate() {
                        for (c, v) in c.iter_mut().zip(at(j, 2)) {
                            *c += p * v;
                        }
                    }
                }
            }
            layer.attention_out.forward(&ctx, &mut attended);
            for (a, r) in attended.iter_mut().zip(&x) {
                *a += r;
            }
            layer.attention_norm.apply(&mut attended);
            layer.intermediate.forward(&attended, &mut inner);
            crate::search::simd::widest(
                #[inline(always)]
                || gelu(&mut inner),
            );
            layer.output.forward(&inner, &mut out);
            for (o, r) in out.iter_mut().zip(&attended) {
                *o += r;
            }
            layer.output_norm.apply(&mut out);
            std::mem::swap(&mut x, &mut out);
        }
        Ok(if self.cls_pooling {
            x[..h].to_vec()
        } else {
            let mut mean = vec![0f32; h];
            for row in x.chunks_exact(h) {
                for (m, v) in mean.iter_mut().zip(row) {
                    *m += v;
                }
            }
            mean.iter_mut().for_each(|m| *m /= n as f32);
            mean
        })
    }
}

/// The sum of `values` with eight running sums (see [`dot`]).
#[inline]
fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `a · b` with eight running sums: a single `sum()` is a chain of additions the compiler may
/// not reorder, so it would not vectorize.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[inline]
fn softmax(scores: &mut [f32]) {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    for s in scores.iter_mut() {
        *s /= sum;
    }
}

/// GELU with the error function, as BERT's `gelu` (not the tanh approximation), in place.
#[inline]
fn gelu(values: &mut [f32]) {
    for v in values.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// The error function to within 2e-6 in `f32` (Abramowitz and Stegun 7.1.28, 3e-7 in exact
/// arithmetic): a polynomial and a division, no exponential, so a loop of it vectorizes (libm's
/// `erff` was a fifth of a query's time).
#[inline(always)]
fn erf(x: f32) -> f32 {
    const A: [f32; 6] = [
        0.070_523_08,
        0.042_282_01,
        0.009_270_527,
        0.000_152_014_3,
        0.000_276_567_2,
        0.000_043_063_8,
    ];
    // Beyond 10 the result is 1 in f32; the cap keeps the 16th power finite.
    let t = x.abs().min(10.0);
    let p = 1.0 + t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * (A[4] + t * A[5])))));
    let p2 = p * p;
    let p4 = p2 * p2;
    let p8 = p4 * p4;
    (1.0 - 1.0 / (p8 * p8)).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_its_stated_error_of_libm() {
        let mut worst = 0f32;
        for i in -6000..=6000 {
            let x = i as f32 / 1000.0;
            worst = worst.max((erf(x) - libm::erff(x)).abs());
        }
        assert!(worst < 2e-6, "worst error {worst}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(100.0), 1.0);
        assert_eq!(erf(-100.0), -1.0);
    }
}
