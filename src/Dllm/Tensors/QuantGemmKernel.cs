using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// The inner loops of <see cref="QuantGemm"/>: one tile of <see cref="MR"/> = 4 activation rows × two chunks of
/// <see cref="NW"/> = 8 weight rows in <see cref="QuantPacking"/>'s layout, with one int32 lane per weight row (two chunks
/// share each activation broadcast).
/// <para>
/// Per block b, for group g = 0..3 a chunk's 8 rows' codes of values 4g..4g+3 (unsigned) and of values 16+4g..16+4g+3 go
/// against the activation row's 4 bytes broadcast to every lane: one int8 dot instruction advances all 8 rows' sums.
/// The accumulator starts at the activation block's correction −o·Σx (<see cref="QuantPacking.CodeOffset"/>; 0 for
/// Q4_K and Q5_K), so after the 8 groups the lanes hold the exact integer dots of the signed codes. Q6_K keeps the two
/// halves (values 0..15 and 16..31) in their own accumulators, each with its own correction, since each has its own
/// scale: dot = sc_lo·lo + sc_hi·hi. Then per output C[r, j] = fma(float(dot), dw[j]·dx[r], C[r, j]) and, for
/// Q4_K and Q5_K, C[r, j] = fma(mw[j], sx[r], C[r, j]) with sx = dx·Σ qx (Σ_t x_t·(dw·q_t + mw) = dx·dw·Σ qx·q + mw·dx·Σ qx),
/// blocks in order. Every kind performs exactly these float operations on the same exact integers, so all kinds agree
/// bit for bit.
/// </para>
/// <para>
/// AVX-VNNI: vpdpbusd (unsigned weight code × signed activation, 4 products added into each int32 lane). AVX2 has no
/// 4-byte dot: vpmaddubsw then vpmaddwd against ones, added (llama.cpp's emulation); no 16-bit pair saturates for codes
/// ≤ 63 (2·63·127 &lt; 2¹⁵), and Q8_0's codes (up to 255) go through the sign trick instead: |w|·(x·sign(w)) with the
/// signed code w = u xor 0x80 and no correction (2·128·127 &lt; 2¹⁵). Portable: scalar sums of the same integers.
/// </para>
/// </summary>
internal static unsafe class QuantGemmKernel
{
    /// <summary>Weight rows per chunk (int32 lanes of a 256-bit vector) and activation rows per tile.</summary>
    public const int NW = 8, MR = 4;

    /// <summary>Whether a kind takes the activation correction −o·Σx for <paramref name="t"/> (AVX2's Q8_0 does not:
    /// it multiplies signed codes).</summary>
    public static bool Corrected(QuantKernelKind kind, DType t) => QuantPacking.CodeOffset(t) != 0 && !(kind == QuantKernelKind.Avx2 && t == DType.Q8_0);

    /// <summary>
    /// The tile of MR activation rows × two chunks (2·NW weight rows): <paramref name="tile"/>[r·2NW + c·NW + j] = Σ_b (as in
    /// the class docs) over the nb blocks, for chunk c = 0 (<paramref name="chunkA"/>) and 1 (<paramref name="chunkB"/>; the
    /// same chunk again when there is no second one, its half of the tile then ignored). <paramref name="kScales"/>: Q4_K and
    /// Q5_K on the vector kinds, the pair's scales from <see cref="KScales"/>.
    /// qx: MR signed activation rows of k bytes; dx, sx: their MR × nb scales and (Q4_K, Q5_K) scaled sums, row stride nb;
    /// corr: their corrections, row stride nb (Q6_K: 2·nb, low then high half of each block), zero where the kind takes
    /// none (<see cref="Corrected"/>).
    /// </summary>
    public static void Tile(QuantKernelKind kind, DType t, sbyte* qx, float* dx, int* corr, float* sx, int nb, int k, byte* chunkA, byte* chunkB, float* kScales, float* tile)
    {
        // One specialised loop per kind and format: the JIT folds the format's choices away (generic struct arguments).
        if (kind == QuantKernelKind.AvxVnni)
            switch (t)
            {
                case DType.Q8_0: case DType.Q5_0: TileCore<VnniDot, ByteCodes, BlockScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q4_0: TileCore<VnniDot, NibbleCodes, BlockScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q4_K: TileCore<VnniDot, NibbleCodes, MinScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q5_K: TileCore<VnniDot, ByteCodes, MinScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q6_K: TileCore<VnniDot, ByteCodes, HalfScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
            }
        else if (kind == QuantKernelKind.Avx2)
            switch (t)
            {
                case DType.Q8_0: TileCore<Avx2SignedDot, ByteCodes, BlockScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q5_0: TileCore<Avx2Dot, ByteCodes, BlockScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q4_0: TileCore<Avx2Dot, NibbleCodes, BlockScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q4_K: TileCore<Avx2Dot, NibbleCodes, MinScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q5_K: TileCore<Avx2Dot, ByteCodes, MinScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
                case DType.Q6_K: TileCore<Avx2Dot, ByteCodes, HalfScales>(qx, dx, corr, sx, nb, k, chunkA, chunkB, kScales, tile); return;
            }
        TilePortable(t, qx, dx, corr, sx, nb, k, chunkA, tile, 0);
        TilePortable(t, qx, dx, corr, sx, nb, k, chunkB, tile, NW);
    }

    private static void TileCore<TDot, TCodes, TScales>(sbyte* qx, float* dx, int* corr, float* sx, int nb, int k, byte* chunkA, byte* chunkB, float* kScales, float* tile)
        where TDot : struct, IInt8Dot where TCodes : struct, ICodes where TScales : struct, IScales
    {
        int cb = TCodes.BlockBytes, cs = TScales.Halves ? 2 * nb : nb;
        byte* scalesA = chunkA + (long)nb * cb, scalesB = chunkB + (long)nb * cb;
        // f{r}{c}: activation row r against chunk c's 8 weight rows.
        Vector256<float> f0a = default, f1a = default, f2a = default, f3a = default, f0b = default, f1b = default, f2b = default, f3b = default;
        for (int b = 0; b < nb; b++)
        {
            // a: values 0..15 of the block (groups 0..3), started at the correction; h: values 16..31 (groups 4..7),
            // its own accumulator only when the halves have their own scales (Q6_K), else added into a.
            int ca = TScales.Halves ? 2 * b : b;
            Vector256<int> a0a = default, a1a = default, a2a = default, a3a = default;
            if (!TScales.Mins) // Q4_K and Q5_K codes need no correction (their offset is 0)
            {
                a0a = Vector256.Create(corr[ca]); a1a = Vector256.Create(corr[cs + ca]);
                a2a = Vector256.Create(corr[2 * cs + ca]); a3a = Vector256.Create(corr[3 * cs + ca]);
            }
            Vector256<int> a0b = a0a, a1b = a1a, a2b = a2a, a3b = a3a;
            Vector256<int> h0a = default, h1a = default, h2a = default, h3a = default, h0b = default, h1b = default, h2b = default, h3b = default;
            if (TScales.Halves)
            {
                h0a = Vector256.Create(corr[ca + 1]); h1a = Vector256.Create(corr[cs + ca + 1]);
                h2a = Vector256.Create(corr[2 * cs + ca + 1]); h3a = Vector256.Create(corr[3 * cs + ca + 1]);
                h0b = h0a; h1b = h1a; h2b = h2a; h3b = h3a;
            }
            byte* wa = chunkA + (long)b * cb, wb = chunkB + (long)b * cb;
            sbyte* x0 = qx + b * 32, x1 = x0 + k, x2 = x0 + 2 * k, x3 = x0 + 3 * k;
            // Pointer steps rather than offsets computed from g: the addresses stay [register + constant].
            for (int g = 0; g < 4; g++, wa += 32, wb += 32, x0 += 4, x1 += 4, x2 += 4, x3 += 4)
            {
                TCodes.Load(wa, out Vector256<byte> la, out Vector256<byte> ha);
                TCodes.Load(wb, out Vector256<byte> lb, out Vector256<byte> hb);
                a0a = TDot.Dot(a0a, la, x0); a0b = TDot.Dot(a0b, lb, x0);
                a1a = TDot.Dot(a1a, la, x1); a1b = TDot.Dot(a1b, lb, x1);
                a2a = TDot.Dot(a2a, la, x2); a2b = TDot.Dot(a2b, lb, x2);
                a3a = TDot.Dot(a3a, la, x3); a3b = TDot.Dot(a3b, lb, x3);
                if (TScales.Halves)
                {
                    h0a = TDot.Dot(h0a, ha, x0 + 16); h0b = TDot.Dot(h0b, hb, x0 + 16);
                    h1a = TDot.Dot(h1a, ha, x1 + 16); h1b = TDot.Dot(h1b, hb, x1 + 16);
                    h2a = TDot.Dot(h2a, ha, x2 + 16); h2b = TDot.Dot(h2b, hb, x2 + 16);
                    h3a = TDot.Dot(h3a, ha, x3 + 16); h3b = TDot.Dot(h3b, hb, x3 + 16);
                }
                else
                {
                    a0a = TDot.Dot(a0a, ha, x0 + 16); a0b = TDot.Dot(a0b, hb, x0 + 16);
                    a1a = TDot.Dot(a1a, ha, x1 + 16); a1b = TDot.Dot(a1b, hb, x1 + 16);
                    a2a = TDot.Dot(a2a, ha, x2 + 16); a2b = TDot.Dot(a2b, hb, x2 + 16);
                    a3a = TDot.Dot(a3a, ha, x3 + 16); a3b = TDot.Dot(a3b, hb, x3 + 16);
                }
            }
            if (TScales.Halves)
            {
                var (sla, sha) = HalfScales.Of(scalesA, b, nb);
                var (slb, shb) = HalfScales.Of(scalesB, b, nb);
                a0a = Combine(a0a, sla, h0a, sha); a1a = Combine(a1a, sla, h1a, sha); a2a = Combine(a2a, sla, h2a, sha); a3a = Combine(a3a, sla, h3a, sha);
                a0b = Combine(a0b, slb, h0b, shb); a1b = Combine(a1b, slb, h1b, shb); a2b = Combine(a2b, slb, h2b, shb); a3b = Combine(a3b, slb, h3b, shb);
            }
            Vector256<float> swa, swb;
            if (TScales.Mins) { swa = Avx.LoadVector256(kScales + 32 * b); swb = Avx.LoadVector256(kScales + 32 * b + 8); }
            else { swa = TScales.Scale(scalesA, b, nb); swb = TScales.Scale(scalesB, b, nb); }
            Vector256<float> d0 = Vector256.Create(dx[b]), d1 = Vector256.Create(dx[nb + b]), d2 = Vector256.Create(dx[2 * nb + b]), d3 = Vector256.Create(dx[3 * nb + b]);
            f0a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a0a), Avx.Multiply(swa, d0), f0a);
            f1a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a1a), Avx.Multiply(swa, d1), f1a);
            f2a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a2a), Avx.Multiply(swa, d2), f2a);
            f3a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a3a), Avx.Multiply(swa, d3), f3a);
            f0b = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a0b), Avx.Multiply(swb, d0), f0b);
            f1b = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a1b), Avx.Multiply(swb, d1), f1b);
            f2b = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a2b), Avx.Multiply(swb, d2), f2b);
            f3b = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a3b), Avx.Multiply(swb, d3), f3b);
            if (TScales.Mins)
            {
                Vector256<float> ma = Avx.LoadVector256(kScales + 32 * b + 16), mb = Avx.LoadVector256(kScales + 32 * b + 24);
                Vector256<float> s0 = Vector256.Create(sx[b]), s1 = Vector256.Create(sx[nb + b]), s2 = Vector256.Create(sx[2 * nb + b]), s3 = Vector256.Create(sx[3 * nb + b]);
                f0a = Fma.MultiplyAdd(ma, s0, f0a); f1a = Fma.MultiplyAdd(ma, s1, f1a); f2a = Fma.MultiplyAdd(ma, s2, f2a); f3a = Fma.MultiplyAdd(ma, s3, f3a);
                f0b = Fma.MultiplyAdd(mb, s0, f0b); f1b = Fma.MultiplyAdd(mb, s1, f1b); f2b = Fma.MultiplyAdd(mb, s2, f2b); f3b = Fma.MultiplyAdd(mb, s3, f3b);
            }
        }
        Avx.Store(tile, f0a); Avx.Store(tile + NW, f0b); Avx.Store(tile + 2 * NW, f1a); Avx.Store(tile + 3 * NW, f1b);
        Avx.Store(tile + 4 * NW, f2a); Avx.Store(tile + 5 * NW, f2b); Avx.Store(tile + 6 * NW, f3a); Avx.Store(tile + 7 * NW, f3b);
    }

    /// <summary>Q6_K's block dot: sc_lo·lo + sc_hi·hi (exact in int32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Combine(Vector256<int> lo, Vector256<int> scLo, Vector256<int> hi, Vector256<int> scHi) =>
        Avx2.Add(Avx2.MultiplyLow(lo, scLo), Avx2.MultiplyLow(hi, scHi));

    /// <summary>Q4_K and Q5_K (the vector kinds): each block's dw = d·sc and mw = (−dmin)·m of chunks A and B, formed once per
    /// chunk pair and GEMM call rather than in every tile: <paramref name="kScales"/>[32b ..] = dwA, dwB, mwA, mwB (8 each).</summary>
    public static void KScales(byte* chunkA, byte* chunkB, int nb, int codeBytes, float* kScales)
    {
        byte* scalesA = chunkA + (long)nb * codeBytes, scalesB = chunkB + (long)nb * codeBytes;
        for (int b = 0; b < nb; b++)
        {
            Avx.Store(kScales + 32 * b, MinScales.Scale(scalesA, b, nb));
            Avx.Store(kScales + 32 * b + 8, MinScales.Scale(scalesB, b, nb));
            Avx.Store(kScales + 32 * b + 16, MinScales.Min(scalesA, b, nb));
            Avx.Store(kScales + 32 * b + 24, MinScales.Min(scalesB, b, nb));
        }
    }

    /// <summary>The activation's 4 bytes at <paramref name="x"/> in every int32 lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Bcast(sbyte* x) => Vector256.Create(Unsafe.ReadUnaligned<int>(x)).AsSByte();

    /// <summary>acc + Σ of the 4 adjacent products (weight code × activation byte) in each int32 lane.</summary>
    private interface IInt8Dot { static abstract Vector256<int> Dot(Vector256<int> acc, Vector256<byte> w, sbyte* x); }

    private struct VnniDot : IInt8Dot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> w, sbyte* x) => AvxVnni.MultiplyWideningAndAdd(acc, w, Bcast(x));
    }

    /// <summary>AVX2's vpdpbusd: vpmaddubsw then vpmaddwd against ones (codes ≤ 63: no 16-bit saturation).</summary>
    private struct Avx2Dot : IInt8Dot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> w, sbyte* x) =>
            Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, Bcast(x)), Vector256.Create((short)1)));
    }

    /// <summary>AVX2 on Q8_0's codes u = w + 128: the signed w = u xor 0x80, then |w|·(x·sign(w)) (|w| ≤ 128: no
    /// saturation), so the dot is of the signed codes and takes no correction.</summary>
    private struct Avx2SignedDot : IInt8Dot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, sbyte* x)
        {
            Vector256<sbyte> w = (u ^ Vector256.Create((byte)0x80)).AsSByte();
            return Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(Bcast(x), w)), Vector256.Create((short)1)));
        }
    }

    /// <summary>Group g's codes (values 4g..4g+3 of the 8 rows) and group g + 4's (values 16+4g..) of a block.</summary>
    private interface ICodes
    {
        static abstract int BlockBytes { get; }
        /// <summary>From group g's slot (block + 32g).</summary>
        static abstract void Load(byte* group, out Vector256<byte> lo, out Vector256<byte> hi);
    }

    private struct ByteCodes : ICodes
    {
        public static int BlockBytes => 256;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* group, out Vector256<byte> lo, out Vector256<byte> hi)
        {
            lo = Avx.LoadVector256(group);
            hi = Avx.LoadVector256(group + 128);
        }
    }

    private struct NibbleCodes : ICodes
    {
        public static int BlockBytes => 128;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* group, out Vector256<byte> lo, out Vector256<byte> hi)
        {
            Vector256<byte> v = Avx.LoadVector256(group), low4 = Vector256.Create((byte)0xF);
            lo = Avx2.And(v, low4);
            hi = Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low4);
        }
    }

    /// <summary>A format's per-block weight scales (QuantPacking's scale region).</summary>
    private interface IScales
    {
        /// <summary>Two int8 scales per block (Q6_K).</summary>
        static abstract bool Halves { get; }
        /// <summary>An offset term mw·sx per block (Q4_K, Q5_K).</summary>
        static abstract bool Mins { get; }
        /// <summary>dw of the 8 rows for block b.</summary>
        static abstract Vector256<float> Scale(byte* scales, int b, int nb);
    }

    /// <summary>Q8_0, Q4_0, Q5_0: dw[nb][8].</summary>
    private struct BlockScales : IScales
    {
        public static bool Halves => false;
        public static bool Mins => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Scale(byte* scales, int b, int nb) => Avx.LoadVector256((float*)scales + b * NW);
    }

    /// <summary>Q4_K, Q5_K: dw = d·sc and mw = (−dmin)·m.</summary>
    private struct MinScales : IScales
    {
        public static bool Halves => false;
        public static bool Mins => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Scale(byte* scales, int b, int nb) =>
            Avx.Multiply(Avx.LoadVector256((float*)scales + b / 8 * NW), Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(scales + nb / 8 * 2 * NW * 4 + b * NW)));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Min(byte* scales, int b, int nb) =>
            Avx.Multiply(Avx.LoadVector256((float*)scales + (nb / 8 + b / 8) * NW),
                Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(scales + nb / 8 * 2 * NW * 4 + (long)nb * NW + b * NW)));
    }

    /// <summary>Q6_K: dw = d of the super-block, and the two int8 scales of block b.</summary>
    private struct HalfScales : IScales
    {
        public static bool Halves => true;
        public static bool Mins => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Scale(byte* scales, int b, int nb) => Avx.LoadVector256((float*)scales + b / 8 * NW);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector256<int> Low, Vector256<int> High) Of(byte* scales, int b, int nb)
        {
            sbyte* s = (sbyte*)(scales + nb / 8 * NW * 4);
            return (Avx2.ConvertToVector256Int32(s + b * NW), Avx2.ConvertToVector256Int32(s + (long)nb * NW + b * NW));
        }
    }

    /// <summary>Scalar: the same integers and float operations as the vector kinds.</summary>
    private static void TilePortable(DType t, sbyte* qx, float* dx, int* corr, float* sx, int nb, int k, byte* chunk, float* tile, int column)
    {
        bool nibbles = QuantPacking.Nibbles(t), withMins = t is DType.Q4_K or DType.Q5_K, halves = t == DType.Q6_K;
        int cb = QuantPacking.CodeBytes(t), cs = halves ? 2 * nb : nb, ns = nb / 8;
        byte* scales = chunk + QuantPacking.ScaleOffset(t, nb);
        byte* kBytes = scales + ns * 2 * NW * 4;
        sbyte* q6 = (sbyte*)(scales + ns * NW * 4);
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NW; j++)
            {
                float acc = 0;
                sbyte* x = qx + (long)r * k;
                for (int b = 0; b < nb; b++)
                {
                    int lo = halves ? corr[r * cs + 2 * b] : corr[r * cs + b], hi = halves ? corr[r * cs + 2 * b + 1] : 0;
                    byte* wb = chunk + (long)b * cb + j * 4;
                    for (int g = 0; g < 4; g++)
                        for (int e = 0; e < 4; e++)
                        {
                            int ul = nibbles ? wb[g * 32 + e] & 0xF : wb[g * 32 + e], uh = nibbles ? wb[g * 32 + e] >> 4 : wb[(g + 4) * 32 + e];
                            lo += ul * x[b * 32 + 4 * g + e];
                            hi += uh * x[b * 32 + 16 + 4 * g + e];
                        }
                    int dot = halves ? q6[b * NW + j] * lo + q6[(long)nb * NW + b * NW + j] * hi : lo + hi;
                    float dw = halves ? ((float*)scales)[b / 8 * NW + j]
                        : withMins ? ((float*)scales)[b / 8 * NW + j] * kBytes[b * NW + j]
                        : ((float*)scales)[b * NW + j];
                    acc = MathF.FusedMultiplyAdd(dot, dw * dx[r * nb + b], acc);
                    if (withMins) acc = MathF.FusedMultiplyAdd(((float*)scales)[(ns + b / 8) * NW + j] * kBytes[(long)nb * NW + b * NW + j], sx[r * nb + b], acc);
                }
                tile[r * 2 * NW + column + j] = acc;
            }
    }
}
