/*
 * The kernels of scaled dot-product attention for one batch item (one
 * head), written once for both dtypes: ops/attention.c includes this file
 * with AT (float or double) and AK(name) (name_f or name_d) defined.
 *
 * Query rows are taken in blocks of p->br, keys in blocks of p->bc; the
 * scores of one block pair live in a workspace of br x bc elements and are
 * never kept.  All products go through attn_mm (BLIS, or a plain loop for
 * tiny blocks).  Rows of q, k and v are it->ld[] elements apart (views of
 * a wider tensor, as q, k and v sliced from one projection); the output,
 * adjoints and tangents are contiguous.  Notation: S = scale Q Kᵀ (masked entries -inf),
 * P = exp(S - lse) row by row, O = P V.
 */

/* Of keys [j0, j0 + nc), how many the causal rule keeps for query i (a
 * prefix); nc without the rule. */
static inline size_t AK(kept_prefix)(const attn_plan *p, size_t i, size_t j0, size_t nc)
{
    if (!p->causal || i >= j0 + nc - 1)
        return nc;
    return i < j0 ? 0 : i - j0 + 1;
}

/* The mask's row of query i from key j0 on (element c at [c msj]), or NULL. */
static inline const AT *AK(mask_row)(const attn_plan *p, const AT *mask, size_t i, size_t j0)
{
    return mask ? mask + (int64_t)i * p->mst + (int64_t)j0 * p->msj : NULL;
}

/* The first key block a query block [i0, i0+nr) never sees under the
 * causal rule (S when there is no causal rule). */
static inline size_t AK(key_end)(const attn_plan *p, size_t i0, size_t nr)
{
    return p->causal ? (i0 + nr < p->S ? i0 + nr : p->S) : p->S;
}

/* x[c] = e^(a x[c] - b) for c < n, a loop of its own (it vectorises);
 * where every argument is in range, 2^k is applied in one product
 * (ADJ_EXP_BLK: the same bits as ADJ_EXP). */
static inline void AK(exp_row)(AT *x, size_t n, AT a, AT b)
{
    int bad = 0;
    for (size_t c = 0; c < n; c++) {
        const AT t = x[c] * a - b;
        bad |= !ADJ_EXP_NORMAL(t);
    }
    if (!bad) {
        enum { adj_slow_ = 0 };
        for (size_t c = 0; c < n; c++)
            x[c] = ADJ_EXP_BLK(x[c] * a - b);
    } else {
        enum { adj_slow_ = 1 };
        for (size_t c = 0; c < n; c++)
            x[c] = ADJ_EXP_BLK(x[c] * a - b);
    }
}

/*
 * Forward, the online softmax: for each query block, running row maxima m
 * and sums l over the key blocks seen so far; when a block raises a row's
 * maximum the row's partial output and sum are rescaled by e^(m_old -
 * m_new).  At the end O /= l and lse = m + log l.  A row with no kept key
 * has l = 0: its output is zeros and its lse -inf.
 */
static void AK(fwd_item)(const attn_plan *p, const attn_item *it, char *ws)
{
    const size_t T = p->T, D = p->D, Dv = p->Dv;
    const size_t lq = it->ld[0], lk = it->ld[1], lv = it->ld[2];
    const AT *q = it->q, *k = it->k, *v = it->v, *mask = it->mask;
    AT *o = it->out, *s = (AT *)ws;
    double *m = (double *)(ws + p->blk_bytes * 2), *l = m + p->br;
    const AT scale = (AT)p->scale;
    for (size_t i0 = 0; i0 < T; i0 += p->br) {
        size_t nr = T - i0 < p->br ? T - i0 : p->br, jend = AK(key_end)(p, i0, nr);
        memset(o + i0 * Dv, 0, nr * Dv * sizeof(AT));
        for (size_t r = 0; r < nr; r++) {
            m[r] = -INFINITY;
            l[r] = 0;
        }
        for (size_t j0 = 0; j0 < jend; j0 += p->bc) {
            size_t nc = jend - j0 < p->bc ? jend - j0 : p->bc;
            attn_mm(p->dtype, false, true, nr, nc, D, q + i0 * lq, lq, k + j0 * lk, lk, 0, s, nc);
            for (size_t r = 0; r < nr; r++) {
                AT *sr = s + r * nc;
                const size_t kc = AK(kept_prefix)(p, i0 + r, j0, nc);
                const AT *mr = AK(mask_row)(p, mask, i0 + r, j0);
                AT mx = -INFINITY;
                for (size_t c = 0; c < kc; c++) {
                    AT x = sr[c] * scale;
                    x = mr && !(mr[(int64_t)c * p->msj] > 0) ? -INFINITY : x;
                    sr[c] = x;
                    mx = x > mx ? x : mx;
                }
                for (size_t c = kc; c < nc; c++)
                    sr[c] = -INFINITY;
                double mn = m[r] > (double)mx ? m[r] : (double)mx;
                if (mn == -INFINITY) { /* nothing kept in this row yet */
                    memset(sr, 0, nc * sizeof(AT));
                    continue;
                }
                const AT mnt = (AT)mn;
                AK(exp_row)(sr, kc, 1, mnt); /* e^-inf = 0 for the dropped */
                AT sum = 0;
                for (size_t c = 0; c < kc; c++)
                    sum += sr[c];
                for (size_t c = kc; c < nc; c++)
                    sr[c] = 0;
                if (m[r] != mn && m[r] != -INFINITY) {
                    AT alpha = (AT)exp(m[r] - mn);
                    AT *orow = o + (i0 + r) * Dv;
                    for (size_t c = 0; c < Dv; c++)
                        orow[c] *= alpha;
                    l[r] *= (double)alpha;
                }
                l[r] += (double)sum;
                m[r] = mn;
            }
            attn_mm(p->dtype, false, false, nr, Dv, nc, s, nc, v + j0 * lv, lv, 1, o + i0 * Dv, Dv);
        }
        for (size_t r = 0; r < nr; r++) {
            AT *orow = o + (i0 + r) * Dv;
            if (l[r] == 0) {
                it->lse[i0 + r] = -INFINITY;
                memset(orow, 0, Dv * sizeof(AT));
                continue;
            }
            double inv = 1.0 / l[r];
            for (size_t c = 0; c < Dv; c++)
                orow[c] = (AT)((double)orow[c] * inv);
            it->lse[i0 + r] = m[r] + log(l[r]);
        }
    }
}

/* P of one block pair from the raw products in s (in place): e^(scale s -
 * lse) where kept, 0 elsewhere and on rows with no kept key. */
static void AK(probs)(const attn_plan *p, const attn_item *it, AT *s, size_t i0, size_t nr,
                      size_t j0, size_t nc)
{
    const AT scale = (AT)p->scale;
    for (size_t r = 0; r < nr; r++) {
        AT *sr = s + r * nc;
        const double lse = it->lse[i0 + r];
        const size_t kc = lse == -INFINITY ? 0 : AK(kept_prefix)(p, i0 + r, j0, nc);
        const AT *mr = AK(mask_row)(p, it->mask, i0 + r, j0);
        const AT lt = (AT)lse;
        AK(exp_row)(sr, kc, scale, lt);
        if (mr)
            for (size_t c = 0; c < kc; c++)
                sr[c] = mr[(int64_t)c * p->msj] > 0 ? sr[c] : (AT)0;
        for (size_t c = kc; c < nc; c++)
            sr[c] = 0;
    }
}

/*
 * Backward, recomputing P block by block from the saved lse:
 *   dV_j += P_ijᵀ dO_i
 *   dP_ij = dO_i V_jᵀ,  dS_ij = P_ij (dP_ij - Δ_i),  Δ_i = rowsum(dO_i ∘ O_i)
 *   dQ_i += scale dS_ij K_j,  dK_j += scale dS_ijᵀ Q_i
 * dq, dk, dv (this item's adjoints, NULL when not wanted) accumulate.
 */
static void AK(bwd_item)(const attn_plan *p, const attn_item *it, char *ws, AT *dq, AT *dk, AT *dv)
{
    const size_t T = p->T, D = p->D, Dv = p->Dv;
    const size_t lq = it->ld[0], lk = it->ld[1], lv = it->ld[2];
    const AT *q = it->q, *k = it->k, *v = it->v, *o = it->out, *go = it->gout;
    AT *s = (AT *)ws, *dp = (AT *)(ws + p->blk_bytes);
    double *delta = (double *)(ws + p->blk_bytes * 2 + 2 * p->br * sizeof(double));
    for (size_t i = 0; i < T; i++) {
        double d = 0;
        for (size_t c = 0; c < Dv; c++)
            d += (double)go[i * Dv + c] * (double)o[i * Dv + c];
        delta[i] = d;
    }
    for (size_t j0 = 0; j0 < p->S; j0 += p->bc) {
        size_t nc = p->S - j0 < p->bc ? p->S - j0 : p->bc;
        for (size_t i0 = p->causal ? j0 - j0 % p->br : 0; i0 < T; i0 += p->br) {
            size_t nr = T - i0 < p->br ? T - i0 : p->br;
            attn_mm(p->dtype, false, true, nr, nc, D, q + i0 * lq, lq, k + j0 * lk, lk, 0, s, nc);
            AK(probs)(p, it, s, i0, nr, j0, nc);
            if (dv)
                attn_mm(p->dtype, true, false, nc, Dv, nr, s, nc, go + i0 * Dv, Dv, 1, dv + j0 * Dv,
                        Dv);
            if (!dq && !dk)
                continue;
            attn_mm(p->dtype, false, true, nr, nc, Dv, go + i0 * Dv, Dv, v + j0 * lv, lv, 0, dp, nc);
            const AT scale = (AT)p->scale;
            for (size_t r = 0; r < nr; r++) {
                AT *dr = dp + r * nc;
                const AT *pr = s + r * nc, dl = (AT)delta[i0 + r];
                for (size_t c = 0; c < nc; c++)
                    dr[c] = pr[c] * (dr[c] - dl) * scale;
            }
            if (dq)
                attn_mm(p->dtype, false, false, nr, D, nc, dp, nc, k + j0 * lk, lk, 1, dq + i0 * D, D);
            if (dk)
                attn_mm(p->dtype, true, false, nc, D, nr, dp, nc, q + i0 * lq, lq, 1, dk + j0 * D, D);
        }
    }
}

/*
 * Tangent: with tS = scale (tQ Kᵀ + Q tKᵀ) and A = P ∘ tS,
 *   tO = A V + P tV - rowsum(A) ∘ O
 * (the softmax's tangent is P ∘ (tS - rowsum(P ∘ tS))), block by block
 * from the saved lse; `to` is this item's tangent of the output.
 */
static void AK(jvp_item)(const attn_plan *p, const attn_item *it, char *ws, const AT *tq,
                         const AT *tk, const AT *tv, AT *to)
{
    const size_t T = p->T, D = p->D, Dv = p->Dv;
    const size_t lq = it->ld[0], lk = it->ld[1], lv = it->ld[2];
    const AT *q = it->q, *k = it->k, *v = it->v, *o = it->out;
    AT *s = (AT *)ws, *ts = (AT *)(ws + p->blk_bytes);
    double *rs = (double *)(ws + p->blk_bytes * 2);
    for (size_t i0 = 0; i0 < T; i0 += p->br) {
        size_t nr = T - i0 < p->br ? T - i0 : p->br, jend = AK(key_end)(p, i0, nr);
        memset(to + i0 * Dv, 0, nr * Dv * sizeof(AT));
        for (size_t r = 0; r < nr; r++)
            rs[r] = 0;
        for (size_t j0 = 0; j0 < jend; j0 += p->bc) {
            size_t nc = jend - j0 < p->bc ? jend - j0 : p->bc;
            attn_mm(p->dtype, false, true, nr, nc, D, q + i0 * lq, lq, k + j0 * lk, lk, 0, s, nc);
            attn_mm(p->dtype, false, true, nr, nc, D, tq + i0 * D, D, k + j0 * lk, lk, 0, ts, nc);
            attn_mm(p->dtype, false, true, nr, nc, D, q + i0 * lq, lq, tk + j0 * D, D, 1, ts, nc);
            AK(probs)(p, it, s, i0, nr, j0, nc);
            const AT scale = (AT)p->scale;
            for (size_t r = 0; r < nr; r++) {
                AT *tr = ts + r * nc, sum = 0;
                const AT *pr = s + r * nc;
                for (size_t c = 0; c < nc; c++) {
                    tr[c] = pr[c] * tr[c] * scale;
                    sum += tr[c];
                }
                rs[r] += (double)sum;
            }
            attn_mm(p->dtype, false, false, nr, Dv, nc, ts, nc, v + j0 * lv, lv, 1, to + i0 * Dv, Dv);
            attn_mm(p->dtype, false, false, nr, Dv, nc, s, nc, tv + j0 * Dv, Dv, 1, to + i0 * Dv, Dv);
        }
        for (size_t r = 0; r < nr; r++)
            for (size_t c = 0; c < Dv; c++) {
                size_t e = (i0 + r) * Dv + c;
                to[e] = (AT)((double)to[e] - rs[r] * (double)o[e]);
            }
    }
}

/* The maximum and the sum of x[0..n), each in 16 lanes combined in a fixed
 * order (they vectorise; the result depends on n only). */
static inline AT AK(row_max)(const AT *x, size_t n)
{
    AT acc[16];
    for (int l = 0; l < 16; l++)
        acc[l] = -INFINITY;
    size_t c = 0;
    for (; c + 16 <= n; c += 16)
        for (int l = 0; l < 16; l++)
            acc[l] = x[c + l] > acc[l] ? x[c + l] : acc[l];
    for (; c < n; c++)
        acc[0] = x[c] > acc[0] ? x[c] : acc[0];
    AT mx = acc[0];
    for (int l = 1; l < 16; l++)
        mx = acc[l] > mx ? acc[l] : mx;
    return mx;
}

static inline double AK(row_sum)(const AT *x, size_t n)
{
    AT acc[16] = {0};
    size_t c = 0;
    for (; c + 16 <= n; c += 16)
        for (int l = 0; l < 16; l++)
            acc[l] += x[c + l];
    double sum = 0;
    for (int l = 0; l < 16; l++)
        sum += (double)acc[l];
    for (; c < n; c++)
        sum += (double)x[c];
    return sum;
}

/*
 * Forward by whole rows (S at most ATTN_ROWS_S): a query block's scores
 * against all the keys it sees in one product, into the workspace (rows S
 * apart); with each row's exact maximum m and sum l, P = e^(s - m) / l in
 * place, O = P V in one product and lse = m + log l (no rescaling).
 * Entries past a row's kept keys are 0; a row with no kept key is all 0
 * (lse -inf).
 */
static void AK(fwd_rows)(const attn_plan *p, const attn_item *it, char *ws)
{
    const size_t T = p->T, S = p->S, D = p->D, Dv = p->Dv;
    const size_t lq = it->ld[0], lk = it->ld[1], lv = it->ld[2];
    const AT *q = it->q, *k = it->k, *v = it->v, *mask = it->mask;
    AT *o = it->out;
    const AT scale = (AT)p->scale;
    for (size_t i0 = 0; i0 < T; i0 += p->br) {
        size_t nr = T - i0 < p->br ? T - i0 : p->br, jend = AK(key_end)(p, i0, nr);
        AT *s = (AT *)ws;
        attn_mm(p->dtype, false, true, nr, jend, D, q + i0 * lq, lq, k, lk, 0, s, S);
        for (size_t r = 0; r < nr; r++) {
            AT *sr = s + r * S;
            const size_t kc = AK(kept_prefix)(p, i0 + r, 0, jend);
            const AT *mr = AK(mask_row)(p, mask, i0 + r, 0);
            for (size_t c = 0; c < kc; c++)
                sr[c] *= scale;
            if (mr)
                for (size_t c = 0; c < kc; c++)
                    sr[c] = mr[(int64_t)c * p->msj] > 0 ? sr[c] : (AT)-INFINITY;
            const AT mx = AK(row_max)(sr, kc);
            if (mx == -INFINITY) {
                memset(sr, 0, S * sizeof(AT));
                it->lse[i0 + r] = -INFINITY;
                continue;
            }
            AK(exp_row)(sr, kc, 1, mx); /* e^-inf = 0 for the dropped */
            const double sum = AK(row_sum)(sr, kc);
            const AT inv = (AT)(1.0 / sum);
            for (size_t c = 0; c < kc; c++)
                sr[c] *= inv;
            for (size_t c = kc; c < S; c++)
                sr[c] = 0;
            it->lse[i0 + r] = (double)mx + log(sum);
        }
        attn_mm(p->dtype, false, false, nr, Dv, jend, s, S, v, lv, 0, o + i0 * Dv, Dv);
    }
}

/*
 * Backward by whole rows, a query block i at a time against all the keys
 * it sees (j), P recomputed from lse (Q Kᵀ in one product), each step one
 * product:
 *   dV_j += P_ijᵀ dO_i,  dP_ij = dO_i V_jᵀ,  dS_ij = P_ij (dP_ij - Δ_i),
 *   dQ_i += scale dS_ij K_j,  dK_j += scale dS_ijᵀ Q_i
 * with Δ_i = rowsum(dO_i ∘ O_i) taken as the block is reached.
 */
static void AK(bwd_rows)(const attn_plan *p, const attn_item *it, char *ws, AT *dq, AT *dk, AT *dv)
{
    const size_t T = p->T, D = p->D, Dv = p->Dv;
    const size_t lq = it->ld[0], lk = it->ld[1], lv = it->ld[2];
    const AT *q = it->q, *k = it->k, *v = it->v, *o = it->out, *go = it->gout;
    AT *dp = (AT *)(ws + p->blk_bytes);
    const AT scale = (AT)p->scale;
    for (size_t i0 = 0; i0 < T; i0 += p->br) {
        size_t nr = T - i0 < p->br ? T - i0 : p->br, jend = AK(key_end)(p, i0, nr);
        AT *P = (AT *)ws; /* rows jend apart */
        attn_mm(p->dtype, false, true, nr, jend, D, q + i0 * lq, lq, k, lk, 0, P, jend);
        AK(probs)(p, it, P, i0, nr, 0, jend);
        if (dv)
            attn_mm(p->dtype, true, false, jend, Dv, nr, P, jend, go + i0 * Dv, Dv, 1, dv, Dv);
        if (!dq && !dk)
            continue;
        attn_mm(p->dtype, false, true, nr, jend, Dv, go + i0 * Dv, Dv, v, lv, 0, dp, jend);
        for (size_t r = 0; r < nr; r++) {
            const AT *gr = go + (i0 + r) * Dv, *orow = o + (i0 + r) * Dv, *pr = P + r * jend;
            double d = 0;
            for (size_t c = 0; c < Dv; c++)
                d += (double)gr[c] * (double)orow[c];
            AT *dr = dp + r * jend;
            const AT dl = (AT)d;
            for (size_t c = 0; c < jend; c++)
                dr[c] = pr[c] * (dr[c] - dl) * scale;
        }
        if (dq)
            attn_mm(p->dtype, false, false, nr, D, jend, dp, jend, k, lk, 1, dq + i0 * D, D);
        if (dk)
            attn_mm(p->dtype, true, false, jend, D, nr, dp, jend, q + i0 * lq, lq, 1, dk, D);
    }
}
