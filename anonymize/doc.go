// Package anonymize releases tables that do not re-identify anyone:
// k-anonymity, l-diversity and t-closeness by Mondrian partitioning or
// optimal full-domain generalization, information-loss and
// re-identification-risk metrics, an independent verifier, and keyed
// pseudonymization (HMAC-SHA256, FF1 format-preserving encryption).
//
// # Tables and roles
//
// A [Table] is columnar and dictionary-encoded: each column stores one
// int32 code per row, so a table of r rows and c columns takes about
// 4·r·c bytes plus its dictionaries. [ReadCSV] loads one from any
// [io.Reader] in a single streaming pass, with any delimiter, with or
// without header, and with a missing-value token whose rows are dropped or
// kept. A [Spec] gives the columns their roles: identifiers (removed, or
// pseudonymized beforehand with a [Pseudonymizer]), quasi-identifiers
// ([QI], of [Kind] Numeric, Ordinal or Hierarchical), one sensitive
// column, and all others insensitive (copied unchanged).
//
// # Hierarchies
//
// A [Hierarchy] maps every value to one ancestor per level up to a single
// root. [ReadHierarchy] reads the ARX form (value;level1;...;*);
// [ReadTreeHierarchy] reads leaf;parent;...;* trees of uneven depth (as in
// the Basic Mondrian files) and pads them. Both check that every line has
// the same height, that there is one root, and that no node has two
// parents; binding a hierarchy to data checks that it covers every value.
// [IntervalHierarchy], [MaskingHierarchy] and [DateHierarchy] build
// hierarchies for numbers (with top and bottom coding), codes such as ZIP
// ("8166*") and dates (day, month, quarter, year, decade).
//
// # Privacy models
//
// Models combine in one [Spec] and are checked for every candidate class:
//   - k-anonymity: every class has at least K rows.
//   - l-diversity (Machanavajjhala et al. 2007): distinct (≥ l distinct
//     sensitive values), entropy (−Σ p·ln p ≥ ln l) or recursive (c,l)
//     (r1 < c·(r_l + … + r_m) for the sorted counts).
//   - t-closeness (Li, Li and Venkatasubramanian 2007): the earth mover's
//     distance between a class's sensitive distribution P and the table's Q
//     is at most t, with equal distance (½·Σ|p_i − q_i|), ordered distance
//     (Σ_i|Σ_{j≤i}(p_j − q_j)|/(m−1)) or hierarchical distance
//     (Σ over internal nodes N of height(N)/H · min(pos(N), neg(N))).
//   - a suppression limit: at most that fraction of rows removed.
//
// # Algorithms
//
// [Mondrian] is strict multidimensional local recoding (LeFevre, DeWitt and
// Ramakrishnan 2006): disjoint partitions, split iteratively on the QI of
// widest normalized range, trying the next QI when it cannot be cut. The
// cut rule is an option ([CutRule]): by default ([BestCut]) the most
// balanced cut both of whose halves meet every model; [MedianCut] takes
// the median cut of the paper or none. On Adult the default loses markedly
// less information (see BENCHMARKS.md), and that gain comes from the cut
// rule. Hierarchical QIs split into the children of the lowest common
// ancestor (Basic Mondrian).
// Sub-partitions are split in parallel; the output does not depend on
// scheduling. A partition of a larger table, loaded by [NewTableDomain]
// with the whole table's value domains and run with
// MondrianOptions.Reference set to the whole table's sensitive
// distribution, is cut and generalized as Mondrian cuts it inside the
// whole table (the distributed pipeline of the nested beam module relies
// on this). [Optimal] searches the lattice of full-domain
// generalizations with Flash (Kohlmayer et al. 2012) and predictive
// tagging, suppressing the rows of failing classes within the limit, and
// returns the node of least information loss ([Metric]).
//
// # Columns that undo generalization
//
// A column released unchanged can give back what generalization hid: in
// the Adult data, education names each value of the QI education-num.
// [DependentColumns] finds the columns that determine, or are determined
// by, a single QI exactly on the rows of the table (not a dependence that
// one row breaks, nor a lossy function of several QIs), and [Mondrian],
// [Optimal] and [Verify] refuse them unless Spec.KeepDependent is set;
// remove them with Spec.Identifiers or make them QIs.
//
// # Verification
//
// [Verify] trusts no algorithm: from the output table it regroups rows by
// their generalized QI values and recomputes the smallest class, l of each
// kind, t, and the suppressed rows, and it matches every output row, in
// order, to an input row it generalizes, so a row altered, invented or
// lost beyond the limit is caught. The privml CLI runs it after every
// anonymization and writes nothing when it fails.
//
// # Metrics
//
// With n input rows, d QIs, classes E and suppressed rows S:
//   - NCP (GCP), in %: the average over the n·d cells of the cell penalty:
//     (hi − lo)/(max − min) for a numeric range, (covered − 1)/(values − 1)
//     for an ordinal range or hierarchy node, where values counts the
//     distinct values of the column; 0 for an ungeneralized cell and 1 for
//     a suppressed one.
//   - Discernibility: Σ_E |E|² + |S|·n.
//   - C_AVG: ((n − |S|)/|E|)/k.
//   - Non-uniform entropy: Σ over cells of log2(|rows whose value the
//     generalized cell covers| / |rows with the original value|) in bits;
//     suppressed cells count log2(n/|rows with the value|).
//   - Loss (ARX, Iyengar 2002): NCP/100 computed over hierarchy nodes.
//   - Re-identification risk (prosecutor model): a record's risk is
//     1/|E|; maximum 1/min|E|, average |E-count|/(n − |S|); sample uniques
//     is the fraction of records in classes of size 1.
//
// # Pseudonymization
//
// A [Pseudonymizer] maps a value v of column c to the first 128 bits of
// HMAC-SHA256(K_c, v), with K_c = HMAC-SHA256(K, "privml/anonymize/
// pseudonym/v1" ‖ 0 ‖ c) derived from the caller's key K; there is no
// unkeyed mode. [EncryptColumn] applies FF1 (NIST SP 800-38G, package
// [github.com/privml/privml/anonymize/ff1]) for reversible,
// format-preserving encryption of digit and alphanumeric strings; FF3 and
// FF3-1 are not provided. [Mask] and [Table.Redact] hide values outright.
//
// # Errors and nil arguments
//
// Whatever comes from data (a malformed file, a value outside a
// hierarchy, a k larger than the table, an index outside the table)
// gives an error wrapping one of the sentinel errors ([ErrInput],
// [ErrIndex], ...), never a panic. A nil table or reader passed to
// [ReadCSV], [ReadHierarchy], [Mondrian], [Optimal], [Verify],
// [DependentColumns], [Table.MapColumn] or [EncryptColumn], a nil cipher
// passed to EncryptColumn and a nil writer passed to [Table.WriteCSV] are
// errors as well. Nil options ([MondrianOptions], [OptimalOptions]) mean
// the defaults, and a nil Hierarchy in a [QI] means none. Methods need a
// receiver made by this package (a [Table] from [NewTable] or [ReadCSV], a
// [Pseudonymizer] from [NewPseudonymizer], a [Hierarchy] from its readers
// or builders): calling one on a nil pointer is a programming error and
// panics as Go does.
//
// # Threat model
//
// The adversary knows the published table and, for every target, the
// target's quasi-identifier values and presence in the table (prosecutor
// model); k bounds the re-identification probability by 1/k, l-diversity
// and t-closeness bound what a class reveals about the sensitive value.
// These are syntactic guarantees: they do not compose over several
// releases of the same data and do not protect against adversaries with
// other background knowledge; use differential privacy (package dp) for
// such guarantees. Keys for pseudonyms and FF1 must come from the caller
// and stay secret; pseudonyms and FF1 ciphertexts are deterministic, so
// they reveal equality of values within a column. Error messages name
// columns, rows and offending values of hierarchies or QIs, never whole
// records or keys; a [Pseudonymizer] and an [ff1.Cipher] print as a fixed
// redacted text under every fmt verb and in log/slog. Go gives no guarantee that key copies are erased from
// memory.
//
// # References
//
//   - K. LeFevre, D. J. DeWitt, R. Ramakrishnan. Mondrian multidimensional
//     k-anonymity. ICDE 2006.
//   - F. Kohlmayer, F. Prasser, C. Eckert, A. Kemper, K. A. Kuhn. Flash:
//     efficient, stable and optimal k-anonymity. PASSAT/SocialCom 2012.
//   - A. Machanavajjhala, D. Kifer, J. Gehrke, M. Venkitasubramaniam.
//     l-diversity: privacy beyond k-anonymity. ACM TKDD 2007.
//   - N. Li, T. Li, S. Venkatasubramanian. t-closeness: privacy beyond
//     k-anonymity and l-diversity. ICDE 2007.
//   - M. Dworkin. Recommendation for block cipher modes of operation:
//     methods for format-preserving encryption. NIST SP 800-38G (2016)
//     and Rev. 1 draft (2019).
//   - V. S. Iyengar. Transforming data to satisfy privacy constraints. KDD
//     2002.
package anonymize
