// Package he runs machine-learning inference on encrypted inputs with the
// CKKS approximate homomorphic encryption scheme, built on lattigo v6: a
// client encrypts its features, a server evaluates a model on them without
// seeing inputs or outputs, and the client decrypts the prediction.
//
// # Roles
//
// A [Client] owns the secret key. It encrypts samples ([Client.Encrypt]),
// decrypts results ([Client.Decrypt], [Client.DecryptPublic]) and
// generates exactly the evaluation keys a compiled model needs
// ([Client.GenEvaluationKeys]). A [Server] holds the compiled model and
// [EvaluationKeys] only: nothing in its type can decrypt. Lattigo types stay
// out of the public API, so a future lattigo version changes this package
// only.
//
// # Models and the planner
//
// A [Model] is a stack of [Dense] layers, each with an optional activation
// ([ActSquare], [ActSigmoid], [ActTanh]); [NewLogisticRegression] and
// [NewMLP] build them from plain weights and [ReadModelJSON] reads the JSON
// format documented on [Model]. [Conv2D] lowers a convolution to its
// im2col matrix as a dense layer that keeps the convolution's shape
// ([Dense.Conv]), so the planner can pack it as a convolution;
// [AvgPool2D] lowers average pooling to a dense layer, and
// [FoldBatchNorm] folds a batch normalization into the preceding layer. [Compile] turns a model into a [Plan]: it
// computes the multiplicative depth (one level per dense layer, one for
// x², ⌈log2(d+1)⌉ for a degree-d polynomial), picks the smallest preset
// deep enough, truncates its modulus chain to exactly that depth (faster,
// smaller keys, at least as secure), fixes the level and scale of every
// layer, and fails before anything is encrypted if the model does not fit:
//
//	he: model needs depth 18; the largest preset without bootstrapping (PN15) has 15
//
// Scales are managed by construction (weights are encoded at the scale of
// the prime the next rescale removes), so evaluation never meets a scale
// mismatch. With calibration samples ([CompileOptions.Calibration]) the
// planner also sets the approximation intervals of sigmoid and tanh and
// checks that outputs fit the modulus headroom. [Verify] runs the whole
// protocol and reports argmax agreement and the maximum error against
// plaintext inference.
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
// lazily after the next layer, which has fewer outputs.
//
// Sigmoid and tanh are Chebyshev interpolants of the chosen degree over
// [-Interval, Interval], evaluated with lattigo's Paterson-Stockmeyer
// polynomial evaluator; the change of variable x/Interval is folded into
// the preceding layer's weights, so it costs no level.
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
// decoders are fuzzed. Evaluation keys travel compressed: each key carries a
// 32-byte seed instead of its uniform half, which the server regenerates.
// Decoders refuse parameters below 128-bit security unless called with
// [AllowInsecureForTesting].
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
// Batch results are bit-identical whatever GOMAXPROCS; in latency mode
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
// noise-flooded decryption share (lattigo's multiparty package, after
// Mouchet, Troncoso-Pastoriza, Bossuat and Hubaux, PETS 2021). Both run
// the parties in one process; the shares are what a deployment would send.
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
// CKKS decryption is approximate: a decrypted value carries noise that
// depends on the secret key. Li and Micciancio (Eurocrypt 2021) showed that
// releasing such decryptions to a party that chose the computation
// (IND-CPA-D) can reveal the key. Results that stay with the key owner may
// be read with [Client.Decrypt]; results that leave the key owner must be
// decoded with [Client.DecryptPublic], which rounds and floods the noise
// with lattigo's public decoding, or be rounded to the precision the
// application needs before release.
//
// Randomness for keys and encryption comes from lattigo's PRNG, a BLAKE2b
// XOF keyed from crypto/rand. [Client.Close] zeroes the secret key; Go
// gives no guarantee that no other copy remains in memory.
//
// # Security of presets
//
// Only vetted presets are offered ([PN13], [PN14], [PN15]); anything else
// must come from [InsecureTestParameters], whose name says what it is.
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
// TestPresetSecurity checks the table. Bootstrapping is not inserted: a
// model deeper than 15 is rejected.
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
//   - E. Lee, J.-W. Lee, J.-S. No, Y.-S. Kim. Minimax Approximation of Sign
//     Function by Composite Polynomial for Homomorphic Comparison. IEEE TDSC
//     2021 (composite minimax sign, the basis of an encrypted ReLU; not yet
//     offered here).
//   - lattigo v6 (github.com/tuneinsight/lattigo), whose CKKS tutorial and
//     sigmoid examples this package follows for lintrans and polynomial
//     evaluation.
package he
