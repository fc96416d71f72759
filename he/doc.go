// Package he runs machine-learning inference on encrypted inputs with the
// CKKS approximate homomorphic encryption scheme, built on lattigo v6: a
// client encrypts its features, a server evaluates a model on them without
// seeing inputs or outputs, and the client decrypts the prediction.
//
// # Roles
//
// A [Client] owns the secret key. It encrypts samples ([Client.Encrypt]),
// decrypts results ([Client.Decrypt] for itself, [Client.DecryptPublic]
// with noise flooding for results it releases) and
// generates exactly the evaluation keys a compiled model needs
// ([Client.GenEvaluationKeys]). A [Server] holds the compiled model and
// [EvaluationKeys] only: nothing in its type can decrypt. Lattigo types stay
// out of the public API, so a future lattigo version changes this package
// only.
//
// # Models and the planner
//
// A [Model] is a stack of [Dense] layers, each with an optional activation
// ([ActSquare], [ActSigmoid], [ActTanh], [ActReLU]); [NewLogisticRegression] and
// [NewMLP] build them from plain weights and [ReadModelJSON] reads the JSON
// format documented on [Model]. [Conv2D] lowers a convolution to its
// im2col matrix as a dense layer that keeps the convolution's shape
// ([Dense.Conv]), so the planner can pack it as a convolution;
// [AvgPool2D] lowers average pooling to a dense layer, and
// [FoldBatchNorm] folds a batch normalization into the preceding layer. [Compile] turns a model into a [Plan]: it
// computes the multiplicative depth (one level per dense layer, one for
// x², ⌈log2(d+1)⌉ for a degree-d polynomial, the sign depth plus one for
// ReLU), picks the smallest preset
// deep enough, truncates its modulus chain to exactly that depth (faster,
// smaller keys, at least as secure), fixes the level and scale of every
// layer, and fails before anything is encrypted if the model does not fit:
//
//	he: model needs depth 18; the largest preset without bootstrapping (PN15) has 15
//
// unless [CompileOptions.Bootstrap] is set, in which case it bootstraps
// (see Bootstrapping below).
//
// Scales are managed by construction (weights are encoded at the scale of
// the prime the next rescale removes), so evaluation never meets a scale
// mismatch. With calibration samples ([CompileOptions.Calibration]) the
// planner also sets the approximation intervals of sigmoid and tanh and
// checks that outputs fit the modulus headroom. NaN or infinite
// calibration values are refused with [ErrInput]. [Verify] runs the whole
// protocol and reports argmax agreement and the maximum error against
// plaintext inference.
//
// Input range. A plan compiled with calibration samples keeps the range
// of every feature (that of the samples, widened by a quarter of its
// width on each side), or the range of [CompileOptions.InputRange];
// [Client.Encrypt] refuses a sample outside it with [ErrRange], naming the
// sample, the feature and the interval, since the polynomial activations
// diverge outside the intervals they were fitted for (a logistic
// regression would otherwise return −1647.9 for an input of 1e30).
// Without calibration or a range nothing is checked. The range is part of
// the plan's encoding (format version 3).
//
// Explain. [Explain] and [Plan.Explain] report per layer the levels used,
// the position in the modulus chain, the interval, a bound on the
// activation input (from the input range by interval arithmetic), the
// estimated noise and approximation error and the expected error, the
// precision [Client.DecryptPublic] would leave, and hints: an interval the
// inputs can exceed, a model too deep (with the depth of cheaper
// activations: a ReLU with alpha 4 costs 8 levels instead of 12, a square
// 1), an expected error above 1e-2. The noise model is described in
// noise.go: the average-case analysis of Costache et al. for fresh
// encryptions, rescales and key switches, the triangle inequality through
// linear layers, 2|x|·e through squares and max|p'|·e through
// polynomials, with a worst-slot factor for the terms that multiply the
// secret; TestNoiseEstimateHolds checks it against encrypted runs (it
// overestimates the measured noise by 2 to 32 times).
//
// # ONNX import
//
// [ReadONNX] reads a model exported to ONNX (by torch.onnx.export, for
// example) whose graph is a chain of Gemm, MatMul, Conv, AveragePool,
// GlobalAveragePool, BatchNormalization, arithmetic with constants,
// Flatten and Reshape, with Relu, Sigmoid, Tanh or the square (Mul x x,
// Pow x 2) as activations. Consecutive linear operators are multiplied
// into one dense layer, so batch normalization is folded and pooling next
// to a linear layer costs no extra level; a first-layer convolution keeps
// its shape for the planner. Other operators, including ai.onnx.ml ones
// such as skl2onnx's LinearClassifier, are refused with the node's name
// and operator. The ONNX schema's Go code is generated from the official
// onnx.proto and lives, with the graph lowering, in an internal package.
//
// # Packing and layouts
//
// [Latency] mode puts one sample in one ciphertext, replicated with a
// power-of-two period across the slots. A dense layer uses the diagonal
// method of Halevi and Shoup with baby-step giant-step and hoisted
// rotations (lattigo's lintrans); when it has fewer outputs than inputs it
// uses the hybrid method of Gazelle (Juvekar et al.): as many extended
// diagonals as padded outputs, then log2(in/out) rotate-and-add folds. For
// the first layer the client packs rot(x, k) for every diagonal k side by
// side, so the layer is one plaintext product and log2(#diagonals)
// rotate-and-adds at the next level. Matrices larger than the slot count
// are split into slot-sized blocks across ciphertexts. Rotate-and-add
// folds run in rounds of two, y + rot(y, a) + rot(y, b) + rot(y, a+b),
// hoisted from one decomposition of y with a single modulus switch for
// the sum.
//
// A first layer that is a convolution ([Dense.Conv]) is packed directly
// when the planner's cost estimate (key switches and plaintext products)
// says it is cheaper than its im2col matrix, or when
// [CompileOptions.Conv] asks for it (after Gazelle and Lee et al.). The
// client writes the zero-padded image into a grid of R slots per row
// (R ≥ Width + 2·Padding, a power of two when that costs no extra slots)
// and S = (Height + 2·Padding)·R per channel, repeated with period
// B = nextPow2(InChannels·S). Filter oc works on the copy in slots
// [oc·B, (oc+1)·B) and leaves output (oc, oy, ox) in slot
// oc·B + oy·Stride·R + ox·Stride. For each kernel offset (ic, ky, kx) the
// input of every output sits ic·S + ky·R + kx slots further on, so the
// convolution is one hoisted baby-step giant-step transform with one
// "diagonal" per offset: a mask holding, at each output's slot, its weight
// at that offset. All filters share the same rotations. When the output
// period nextPow2(OutChannels)·B leaves spare copies in the slots, the
// kernel rows are split into groups, one per copy: the client shifts the
// grid in copy j by the offset of group j's first row, so that one
// rotation serves an offset of every group, and rotate-and-add folds by
// the output period sum the copies (a use of otherwise idle slots in the
// spirit of Lee et al.'s parallel convolutions). The planner picks the
// number of groups by its cost estimate. The 7×7 kernel of the
// TenSEAL-shaped network (four filters, B = 1024, two copies) costs 28
// plaintext products, 9 key switches (6 of them hoisted baby steps) and
// one fold, where its im2col matrix has 256 extended diagonals (38 key
// switches). The strided outputs are not compacted: the next layer's
// matrix reads them where they are (its columns are permuted to their
// slots), so that layer folds over the period nextPow2(OutChannels)·B
// instead of its padded input count (six folds instead of two in that
// network, against the two the im2col layer itself needs). A convolution
// that is the last layer, follows another layer or needs more slots than
// the parameters have is evaluated as its im2col matrix.
//
// [Batch] mode packs features major: ciphertext i holds feature i of up to
// [Parameters.Slots] samples. Dense layers are multiply-accumulates by
// plaintext scalars with no rotation and no Galois key, computed with one
// Montgomery reduction per output coefficient, and x² is relinearized
// lazily after the next layer, which has fewer outputs. The slots no
// sample uses would hold the model's output on an all-zero input: the
// server subtracts that output (computed in the clear) there and adds
// fresh uniform values on ±2^(LogOutputBound−2) from crypto/rand, so the
// client reads only its samples' outputs (TestBatchUnusedSlotsMasked).
// This holds for a client that encrypts zeros there, as [Client.Encrypt]
// does; the sample count is the client's claim, and a client that fills
// the unused slots with a chosen input x reads f(x) − f(0) plus a uniform
// mask in each, whose midpoint over the n slots gives f(x) − f(0) within
// about 2^(LogOutputBound−2)/n (TestBatchMaskMaliciousClient): the
// masking does not limit the number of predictions a client obtains. In
// latency mode the other slots of an output hold replicas of the outputs
// (with the period of the last layer) or zeros, up to the noise
// (TestLatencyOtherSlots, for models whose last layer has no activation;
// after a final activation the padding holds the activation's value at
// zero), so they are not masked.
//
// Sigmoid and tanh are Chebyshev interpolants of the chosen degree over
// [-Interval, Interval], evaluated with lattigo's Paterson-Stockmeyer
// polynomial evaluator; the change of variable x/Interval is folded into
// the preceding layer's weights, so it costs no level.
//
// ReLU is relu(x) = x·(1+sign(x))/2 with the sign a composite minimax
// polynomial p_k∘…∘p_0 on [-1, 1] (Lee, Lee, No and Kim, IEEE TDSC 2021),
// each stage evaluated with the Paterson-Stockmeyer evaluator. The stages
// were computed with lattigo's multi-interval Remez algorithm
// (circuits/ckks/minimax) and are committed as Go source
// (signpoly_table.go, regenerated by go generate from internal/gensign):
// generation takes 5 to 10 seconds per set and prints its progress, so it
// is not done at compile time. As for sigmoid, x/Interval is folded into the
// preceding layer's weights; Interval/2 and the 1+ are folded into the last
// stage, so the activation costs the sign depth plus one product by x:
//
//	alpha  degrees    depth (sign + product)  sign error for |x| ≥ 2^-alpha·Interval
//	4      7, 15      7 + 1                   6.1e-3 (2^-7.4)
//	7      7, 15, 15  11 + 1                  3.8e-3 (2^-8.1), the default
//
// For inputs in [-Interval, Interval] the ReLU error is at most
// Interval·max(2^-alpha, err/2): inputs near zero may come out anywhere
// between 0 and x. Inputs beyond the interval make the polynomials
// diverge, so set it from calibration data ([CompileOptions.Calibration]
// takes 1.25 times the largest input seen). [Model.Predict] stays the
// exact ReLU, so [Verify] reports the approximation error honestly. With the
// default alpha one hidden ReLU layer (depth 1+12+1) fits PN15; deeper
// models need bootstrapping. Unlike lattigo's minimax evaluator, the
// imaginary part of the slots is not cleaned by a conjugation between
// stages: with these degrees its growth stays at the level of the real
// error (TestReLUEncrypted matches the plaintext polynomial model to 1e-3),
// and skipping it saves a Galois key and keeps batch mode rotation-free.
//
// # Bootstrapping
//
// With [CompileOptions.Bootstrap] set, a model deeper than the largest
// preset (or than bootstrappable [CompileOptions.Parameters]) is compiled
// to [NewBootstrapParameters]; a model that fits a preset is never
// bootstrapped. The planner walks the layers with the levels left and
// inserts a bootstrap (lattigo's circuits/ckks/bootstrapping: ScaleDown,
// ModUp, CoeffsToSlots, EvalMod, SlotsToCoeffs, after Cheon, Han, Kim,
// Kim and Song, Eurocrypt 2018, and Bossuat et al., Eurocrypt 2021) at the
// start of every layer whose dense part and activation do not fit in them;
// the bootstrap restores all 13 residual levels, so one layer may use at
// most 13 (a ReLU layer with the default alpha uses exactly 13). Bootstraps
// are placed at layer boundaries only, after ReLU, sigmoid or tanh layers,
// whose output range is known: it is divided by a power of two through
// the scale alone (no level) so that bootstrapping sees values of
// magnitude about 1, and multiplied back the same way. A layer that would
// need a bootstrap after a square or linear layer is refused with
// [ErrDepth]. Both packings bootstrap every ciphertext of the layer input
// (one per sample in latency mode, one per feature in batch mode).
// [Plan.Bootstraps] reports the count. A server shares one bootstrapper
// (its precomputed matrices are large) and serializes bootstraps across
// concurrent calls.
//
// The parameters are lattigo's default set N16QP1767H32768H32
// (circuits/ckks/bootstrapping/default_parameters.go): ring degree 2^16,
// 32768 slots, residual chain 60 + 13·40 bits at a 2^40 scale, a ternary
// secret of Hamming weight N/2 and σ = 3.2 errors, and an ephemeral sparse
// secret of weight 32 used only inside the bootstrap (sparse-secret
// encapsulation, Bossuat, Troncoso-Pastoriza and Hubaux, eprint 2022/024,
// failure probability about 2^-138). With lattigo v6.2.0 the whole
// bootstrapping modulus is log2 QP = 1706 bits, below 1772
// ([MaxLogQP128Bootstrap]), the 128-bit bound for ternary secrets at
// N = 2^16 from the lattice estimator (the Homomorphic Encryption Standard
// table stops at 2^15); the set is lattigo's, vetted by its authors for
// 128-bit security.
//
// Cost. The client's [Client.GenEvaluationKeys] adds the bootstrapping
// keys: a relinearization key, 48 Galois keys and two encapsulation keys at
// the bootstrapping modulus, 5.7 GB encoded (compressed) and about
// 10.7 GB expanded on the server. Measured with this package on the 2-core
// development machine (24 GB of memory) for an 8-8(ReLU)-8(ReLU)-2 model
// that needs two bootstraps (depth 27): key generation 77 s, server set-up
// (expanding the keys and precomputing the DFT matrices) 111 s, one
// Evaluate 98-112 s for both bootstraps and all three layers at logN 16,
// with a peak resident memory of 19.3 GB; the decrypted outputs matched
// plaintext inference to 2.3e-4 (the ReLU approximation). A server for these
// parameters therefore needs about 20 GB of memory. Measured also with
// INSECURE logN = 12 parameters
// (the same chains on 2048 slots, [InsecureBootstrapTestParameters];
// BenchmarkBootstrap in benchmarks/he, -benchtime 2x): an 8-8-2 ReLU
// model with one bootstrap per sample takes 2.39 s per sample against
// 0.20 s for its first layer alone, so one bootstrap costs about 2 s of one
// core (a direct timing of the bootstrap gave 2.0 s), and its keys encode
// to 209 MB against 7.5 MB without bootstrapping. Bootstrapping time grows
// with the ring degree, and every ciphertext of a layer input is
// bootstrapped, so in batch mode the cost is per feature and in latency
// mode per sample. For comparison, the
// 64-32(ReLU)-10 model, which fits PN15 without bootstrapping, takes 3.0 s
// per sample in latency mode with 169 MB of keys (BenchmarkReLU). The
// bootstrapping precision is about 24 bits at logN 16 (lattigo's figure);
// 22 bits were measured at logN 12.
//
// # Serialization
//
// [Parameters], [Plan], [EvaluationKeys] and [Ciphertext] have WriteTo
// methods and ReadParameters, ReadPlan, ReadEvaluationKeys and
// ReadCiphertext decoders with a magic, kind and version header. Shapes
// follow from the (bounded) parameters, every coefficient must be reduced,
// and counts are capped ([MaxCiphertextParts], [MaxGaloisKeys],
// [MaxEvaluationKeyBytes], [MaxModelWeights]); malformed input returns an
// error wrapping [ErrMalformed] or [ErrTooLarge], never a panic, and the
// decoders are fuzzed (from 16 KB logN-10 seeds and header prefixes, so
// that the fuzzer makes progress). A server that receives a client's keys
// for a known plan decodes them with [ReadEvaluationKeysFor], which
// compares the parameters with the plan's as bytes (no ring is built from
// the stream) and accepts, before allocating each key, only the keys
// [Client.GenEvaluationKeys] makes for that plan, at their levels: a client
// cannot make the server allocate more than the plan's keys (a crafted
// stream claiming top-level keys for a depth-15 PN15 plan makes
// [ReadEvaluationKeys] allocate 49 MB before it fails, and
// ReadEvaluationKeysFor 2 KB). Evaluation keys travel compressed: each key carries a
// 32-byte seed instead of its uniform half, which the server regenerates.
// A server that holds one plan decodes inputs with [ReadCiphertextFor],
// which refuses a layout, part count, level or scale other than the plan's
// input before allocating any part, and sizes its message limits with
// [Plan.MaxCiphertextBytes].
//
// The client's secret key is saved with [Client.WriteSecretKey] (or
// [Client.WriteSecretKeyFile]: mode 0600 from creation, through a
// temporary file renamed over the target) and read back with
// [ReadClient] against the plan's parameters: the encoding is the
// parameters, the key's coefficients and a SHA-256 checksum, and the
// decoder refuses other parameters ([ErrMismatch]), a checksum mismatch,
// an unreduced coefficient or a key that is not ternary ([ErrMalformed]).
// The checksum detects corruption, not forgery: whoever can write the file
// owns the key. A [Client] formats as its parameters name with the key
// redacted under every fmt verb.
//
// Decoders refuse parameters below 128-bit security unless called with
// [AllowInsecureForTesting]. Bootstrappable parameters are rebuilt from
// their constructor, never from the stream, and bootstrapping keys follow
// the same rules with their own cap ([MaxBootstrapKeyBytes]); at tens of
// megabytes even at test sizes they are not among the fuzz seeds, and
// TestBootstrapEncoding checks their truncations and corrupted fields
// instead.
//
// # As a service
//
// Package he/heservice serves one plan over gRPC with TLS 1.3 (mutual
// with internal/mtls's development PKI): a client uploads its evaluation
// keys once per session, in chunks decoded with [ReadEvaluationKeysFor],
// and sends ciphertexts decoded with [ReadCiphertextFor]; the server
// caches each session's [Server] (LRU with a TTL). `privml he keygen`,
// `encrypt`, `decrypt`, `serve` and `infer` are the command-line side,
// and examples/he-service runs client and server as two processes.
//
// # Concurrency
//
// A [Server] is safe for concurrent use: each [Server.Evaluate] takes a
// private lattigo evaluator from a pool; evaluators share the read-only
// keys and encoded weights. A [Client] is not safe for concurrent use.
//
// One [Server.Evaluate] call also uses several cores where its work is
// independent, with min(GOMAXPROCS, work items) goroutines (none beyond
// the caller's when GOMAXPROCS is 1), each with its own evaluator from the
// pool, so no evaluator is ever used by two goroutines at once:
//
//   - batch mode: the multiply-accumulates of a dense layer, one work item
//     per (ciphertext part, RNS prime) over all outputs, then the rescale
//     and relinearization of the outputs, and the activation of each
//     ciphertext;
//   - latency mode: the hoisted baby-step rotations of a transform
//     (sharing one decomposition of the input), its giant-step groups
//     (split into up to GOMAXPROCS parts balanced by cost and added), and
//     the output blocks of a matrix larger than the slot count.
//
// Batch results are bit-identical whatever GOMAXPROCS (but for the
// fresh masks of the unused slots); in latency mode
// each giant-step part is divided by P separately, which changes results
// by a rounding far below the CKKS noise. Concurrent Evaluate calls each
// start their own goroutines, so a server already saturated by concurrent
// requests gains nothing from this; set GOMAXPROCS to bound the total.
//
// # Multiparty
//
// Several parties can hold additive shares of the secret key
// ([NewParties]): [CollectiveKeyGen] builds the public key (an
// [Encryptor]) and the evaluation keys of a plan from one share per party,
// and [ThresholdDecrypt] decrypts only when every party contributes a
// noise-flooded decryption share c1·s_i + z_i (after Mouchet,
// Troncoso-Pastoriza, Bossuat and Hubaux, PETS 2021; key generation uses
// lattigo's multiparty package). Each party's z_i has the standard
// deviation σ = √(12τ)·2^(s/2)·B of [Client.DecryptPublic] (B estimated for
// the collective key, the sum of the parties' shares), so one honest
// party's share hides the ciphertext noise from all others; the result
// carries √n times that flooding, and is refused below
// [PublicDecryption.MinPrecision] bits. TestThresholdFloodingStatistics
// measures the flooding's standard deviation against the configured one
// (within 2%). Both calls run the parties in one process; the shares are
// what a deployment would send.
//
// # Threat model
//
// The server is semi-honest: it follows the protocol but may try to learn
// the inputs or outputs from what it sees (ciphertexts, evaluation keys,
// the model it owns). Under the RLWE assumption it learns nothing about
// them. The model is not hidden from the server (it evaluates it in the
// clear), and the client learns the model's outputs, which may leak
// information about the model to a client that queries it many times.
// A malicious server can return wrong results; nothing here detects that.
//
// What the client learns about the model: the outputs of the samples it
// sends (in batch mode the other slots are masked, which hides the
// output on zero from an honest client but not the outputs of inputs a
// client hides in those slots; see "Packing and layouts") and, today,
// the plan, which holds the weights in the clear ([Client.Encrypt] and
// [Client.DecryptPublic] take it). Circuit privacy is not provided: a
// deployment that hides the model from the client must not give it the
// plan, and even then the output ciphertexts are not sanitized (their
// noise depends on the computation and the model), so the model is
// protected only as far as its outputs and their noise protect it.
//
// CKKS decryption is approximate: a decrypted value carries noise that
// depends on the secret key. Li and Micciancio (Eurocrypt 2021) showed that
// releasing such decryptions to a party that chose the computation
// (IND-CPA-D) can reveal the key. Results that stay with the key owner may
// be read with [Client.Decrypt]; results that leave the key owner must be
// decrypted with [Client.DecryptPublic], which adds noise flooding in the
// coefficient domain before decoding, with the standard deviation
// σ = √(12τ)·2^(s/2)·B of Li, Micciancio, Schultz and Sorrell (Crypto
// 2022) as OpenFHE's NOISE_FLOODING_DECRYPT applies it: s the statistical
// security (30 by default), τ the number of released decryptions of the
// same or related ciphertexts (1 by default), B a bound on the ciphertext
// noise from the plan's estimate (twice the estimated coefficient standard
// deviation times the Gaussian tail of a 2^-s union bound over the N
// coefficients). Flooding costs about s/2 + log2(√(12τ)) + log2(√(N/2)) +
// 4 bits over the noise, so it needs a large scale: with the default
// options (estimates from [Plan.Explain] for 8-6-3 models), at a 2^50
// scale and logN 10 a 6-4(square)-3 batch model keeps 13 bits
// (TestDecryptPublicFlooding, where the flooding measures 2^21 times the
// key-dependent noise); at PN15 (2^45) linear and sigmoid models keep 5
// to 7 bits, a latency model with a square 3 and a batch model with a
// square under 1 (its lazy relinearization rescales degree-2 ciphertexts,
// whose rounding multiplies s²); PN13 and PN14 keep none (at most 0.8
// bits): [Client.DecryptPublic] then refuses with [ErrPrecision] unless
// [PublicDecryption.MinPrecision] is lowered. The estimate assumes inputs
// in the plan's input range (a model with a square activation needs one)
// and activation inputs inside their polynomials' intervals, which
// interval arithmetic over the range does not guarantee ([Plan.Explain]
// reports each layer's InputBound against its Interval). Outside an
// interval the polynomial's slope amplifies the noise past the estimate
// (47 times in TestDecryptPublicOutsideInterval) and the output leaves
// its bound: a decryption with a value beyond the output bound plus the
// error bound is refused with [ErrRange]. An activation input just past
// its interval can amplify the noise without moving the output past
// that bound; the check does not catch it, and plans whose InputBound
// exceeds their Interval give no flooding guarantee for such inputs.
// The flooding's standard deviation is capped at 2^40 (larger ones,
// from a large s or τ, are refused with [ErrPrecision]): past it the
// float64 samples grow coarse, and past 2^52 they are multiples of powers
// of two that would give the low bits of the noise away
// (TestFloodPolyLowBits).
//
// Flooding protects decryptions of ciphertexts that the plan's honest
// evaluation produced (the passive IND-CPA-D model): B bounds their noise,
// not that of any ciphertext. [Client.DecryptPublic] checks only a
// ciphertext's dimension and level, so a server that returns a crafted
// ciphertext of the output's shape, such as (0, a) and (0, a·X^(N/2))
// with a far above the flooding, obtains a·s + z and recovers the
// secret key from a single released decryption
// (TestDecryptPublicMaliciousServer). Releasing decryptions to a party
// that could have crafted the ciphertexts is safe only if that party is
// trusted to have evaluated the plan honestly; a client facing a
// possibly malicious server must not show it decrypted results, and
// should rotate its key if it did.
//
// Randomness for keys and encryption comes from crypto/rand (lattigo's
// default PRNG reads it directly). Tests make keys and ciphertexts
// reproducible with Go's testing/cryptotest.SetGlobalRandom, which works
// only inside a test binary (TestReproducibleWithTestingRandom); no
// production option weakens the randomness. [Client.Close] zeroes the
// secret key; Go gives no guarantee that no other copy remains in memory.
//
// # Security of presets
//
// Only vetted presets are offered ([PN13], [PN14], [PN15]); anything else
// must come from [InsecureTestParameters] (or
// [InsecureBootstrapTestParameters]), whose names say what they are.
// Every preset uses a uniform ternary secret and Gaussian errors with
// σ = 3.2 and keeps log2(QP) within the 128-bit classical bounds of the
// Homomorphic Encryption Standard (Albrecht et al., 2018), which the
// lattice estimator confirms for these secrets:
//
//	preset  logN  slots  depth  log2 Q·P      128-bit bound
//	PN13    13    4096   4      36+4·29+2·32  218
//	PN14    14    8192   8      48+8·38+2·42  438
//	PN15    15    16384  15     55+15·45+3·50 881
//
// TestPresetSecurity checks the table. A model deeper than 15 is rejected
// unless [CompileOptions.Bootstrap] is set; it then runs on the
// bootstrapping parameters ([NewBootstrapParameters], logN 16, a ternary
// secret of Hamming weight N/2, bootstrapping log2 QP = 1706 ≤ 1772; see
// Bootstrapping above), the only bootstrappable set offered besides
// [InsecureBootstrapTestParameters].
//
// # References
//
//   - J. H. Cheon, A. Kim, M. Kim, Y. Song. Homomorphic Encryption for
//     Arithmetic of Approximate Numbers. Asiacrypt 2017 (CKKS).
//   - S. Halevi, V. Shoup. Algorithms in HElib. Crypto 2014; Faster
//     Homomorphic Linear Transformations in HElib. Crypto 2018 (diagonal
//     method, baby-step giant-step, hoisting).
//   - C. Juvekar, V. Vaikuntanathan, A. Chandrakasan. Gazelle: A Low
//     Latency Framework for Secure Neural Network Inference. USENIX
//     Security 2018 (hybrid matrix-vector product, packed convolution).
//   - E. Lee, J.-W. Lee, J. Lee, Y.-S. Kim, Y. Kim, J.-S. No, W. Choi.
//     Low-Complexity Deep Convolutional Neural Networks on Fully
//     Homomorphic Encryption Using Multiplexed Parallel Convolutions.
//     ICML 2022 (convolution by rotations and masks, strided outputs left
//     in place).
//   - M. Albrecht et al. Homomorphic Encryption Security Standard, 2018.
//   - B. Li, D. Micciancio. On the Security of Homomorphic Encryption on
//     Approximate Numbers. Eurocrypt 2021.
//   - B. Li, D. Micciancio, M. Schultz, J. Sorrell. Securing Approximate
//     Homomorphic Encryption Using Differential Privacy. Crypto 2022
//     (noise flooding σ = √(12τ)·2^(s/2)·B, as in OpenFHE's
//     CKKS_NOISE_FLOODING.md).
//   - A. Costache, B. R. Curtis, E. Hales, S. Murphy, T. Ogilvie,
//     R. Player. On the Precision Loss in Approximate Homomorphic
//     Encryption. SAC 2023, eprint 2022/162 (average-case noise model).
//   - E. Lee, J.-W. Lee, J.-S. No, Y.-S. Kim. Minimax Approximation of Sign
//     Function by Composite Polynomial for Homomorphic Comparison. IEEE TDSC
//     2021 (composite minimax sign, used for ReLU).
//   - lattigo v6 (github.com/tuneinsight/lattigo), whose CKKS tutorial and
//     sigmoid examples this package follows for lintrans and polynomial
//     evaluation.
package he
