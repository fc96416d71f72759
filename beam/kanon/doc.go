// Package kanon releases a k-anonymous table, optionally l-diverse and
// t-close, with strict Mondrian (LeFevre, DeWitt and Ramakrishnan,
// "Mondrian Multidimensional K-Anonymity", ICDE 2006) run as an Apache
// Beam pipeline, and verifies the release in the same pipeline. It is the
// distributed counterpart of anonymize.Mondrian, laid out the way Privacy
// on Beam sits beside Google's differential-privacy library: a nested
// module, so that the core module carries no Beam dependency.
//
// [Build] adds these stages to a pipeline:
//
//  1. read: every input file (sharded CSV or Parquet, any Beam filesystem)
//     is parsed on a worker; a row with the wrong number of fields, or a
//     Parquet file that cannot be decoded or does not hold the table's
//     columns, is an error naming the file and line (or row); rows holding
//     the missing-value token (for Parquet, a null) are dropped when asked.
//     Rows are gathered into batches of a few thousand, each one element
//     with a compact binary coder: every output column coded by a
//     dictionary of the batch, and each row's place in the input. The
//     runner's cost per element then falls on the batch, not on every row,
//     and a value repeated down the batch is sent and ranked once.
//  2. domain: one combine gathers the value domain of every quasi-identifier
//     (ordinal values in order of first appearance, files in name order,
//     as `privml anonymize` orders them on the concatenated files) and the
//     sensitive distribution; a table of fewer than k rows, a value of a
//     numeric QI that is not a finite number, or a table that does not
//     meet the model as a whole is an error.
//  3. dependent: a column released unchanged that determines, or is
//     determined by, a single QI on the rows of the table is refused by the
//     rule of anonymize.DependentColumns, from the values each (column,
//     value) occurs with and the histogram of value counts per column,
//     unless Config.KeepDependent is set. The stages below read the domain
//     only through this check, so a refused release writes nothing. Each
//     batch is then turned into the batch of its rows' ranks on every QI
//     (and sensitive index).
//  4. levels: for each of Config.Levels levels, every worker reads the
//     batches of ranks, finds each row's partition from the cuts taken so
//     far (a side input), and counts the exact histogram of every QI in
//     every partition still to be decided (and of the sensitive value per
//     QI value when l or t is set); the histograms are combined per
//     partition before and after the shuffle, so only statistics move,
//     never rows. The cut is chosen from them with the rule of
//     anonymize.Mondrian: QIs by decreasing width of the partition's
//     values normalized by the global domain, on each the most balanced
//     cut whose halves meet every model (anonymize.BestCut) or the median
//     cut only (anonymize.MedianCut). A partition of at most
//     Config.LocalThreshold rows is not cut.
//  5. local: each row is sent once, in batches, to its partition of the
//     whole tree; each partition is grouped on one worker and finished by
//     anonymize.Mondrian on a table that carries the global domain
//     (anonymize.NewTableDomain) and the global sensitive distribution
//     (anonymize.MondrianOptions.Reference). Since a Mondrian cut depends
//     only on the rows of the partition and the global domain, the classes
//     are exactly those anonymize.Mondrian gives on the whole table: strict
//     Mondrian, classes that do not overlap, every row generalized to the
//     smallest range covering its class.
//  6. write: each partition's rows are dealt in turn over Config.Shards
//     files part-SSSSS-of-NNNNN.csv, each starting with a header, or
//     part-SSSSS-of-NNNNN.parquet (Config.OutFormat), string columns.
//  7. verify: independently of stages 4 and 5, the output rows are grouped
//     by their generalized QIs (counts of rows and of sensitive values,
//     combined before the shuffle); each class is checked for k, l and t
//     from its own rows, its labels are parsed back into ranges of the
//     global domain for the information loss, and rows out are counted
//     against rows in. The [Report] carries the fields of `privml
//     anonymize --report` that a pipeline can establish (rows_in,
//     rows_out, equivalence_classes, k_min, ncp_percent, discernibility,
//     cavg, verified) and the problems found.
//
// Not covered: hierarchical QIs, t-closeness under the ordered or
// hierarchical distance, and suppression. The histograms are exact, so a
// partition's statistics grow with the distinct values of its QIs, not
// with its rows. The verifier does not join output rows back to input
// rows: it proves the release k-anonymous (l-diverse, t-close) and
// row-preserving in number, not that each row's labels cover its own
// original values.
package kanon
