// Package dataset loads the data sets used by privml's examples, tests and
// benchmarks, and validates them on the way in.
//
// Every loader reads from an [io.Reader] plus a name used in error messages,
// and has a LoadXxxFile wrapper that opens a path (and names errors by it).
// Text and IDX files may be gzipped: the loaders recognise the gzip magic
// bytes (1f 8b) and decompress.
//
// # Formats
//
// scikit-learn CSV ([ReadSklearnCSV], [ReadLabeledCSV]): comma-separated
// numbers with the integer class label in the last column. The headered form
// (breast_cancer.csv, iris.csv, wine_data.csv) starts with
// "n,features,class names..."; digits.csv.gz has no header (64 pixel values
// 0..16 and the digit). The result is a [Dataset]: features in one flat
// row-major slice, labels, class and feature names.
//
// UCI Adult ([ReadAdult], [ReadAdultAll]; the training file is embedded
// gzipped, [AdultEmbedded], and [AdultNumeric] one-hot encodes it for
// classification): the census-income file adult.data, 15 comma-separated
// fields (comma then space), no header, "?" for a missing
// value, blank lines at the end. [ReadAdult] streams rows to a callback so
// that large replicas are never held twice; [AdultOptions.DropMissing] skips
// rows with a missing value (32,561 rows become 30,162).
//
// ARX ([ReadARXTable], [ReadARXRows], [ReadHierarchy],
// [ReadRaggedHierarchy]): ';'-separated tables with a header line, and
// generalization hierarchies with one line per leaf, "value;level1;...;*",
// leaf first and root last. ARX hierarchies have rows of equal length; the
// basic-Mondrian files (adult_workclass.txt and others) have rows of
// different lengths ("Never-married;*" beside "Divorced;leave;*") and are
// read with [ReadRaggedHierarchy].
//
// IDX ([ReadIDXImages], [ReadIDXLabels], [LoadFashionMNIST]): the big-endian
// binary format of MNIST and Fashion-MNIST. Images (magic 0x00000803) are
// returned as flat bytes in an [Images] value; [AppendUnitFloat] and
// [Images.Dataset] scale them to [0, 1]; [CheckPair] checks that labels
// (magic 0x00000801) match their images.
//
// # Errors
//
// Malformed input never panics. Every error for bad content is a
// [*ParseError] that names the file, the line (or byte offset for IDX) and
// the column, and wraps one of the sentinels [ErrFormat], [ErrTruncated],
// [ErrMagic] or [ErrTooLarge] for use with [errors.Is]. Sizes read from a file
// are checked against the data actually present or a limit before anything
// of that size is allocated: a header that claims 2^31 images costs nothing.
// Lines are limited to [MaxLineBytes]; IDX payloads to a caller-chosen
// limit ([DefaultIDXMaxBytes] by default, at most [MaxIDXBytes]). Messages
// quote at most a short prefix of an offending field and never a whole
// record.
//
// # Embedded data
//
// [BreastCancer], [Digits], [Iris] and [Wine] return data sets compiled
// into the package (about 190 KB in all), so examples run with no external
// files. They come from scikit-learn 1.2.1 (BSD-3-Clause packaging) and were
// originally published by the UCI Machine Learning Repository (CC BY 4.0);
// data/README.md gives the sources, citations and checksums.
//
// # Sources of the external files
//
// The larger files live in the shared data folder (../shared/datasets, each
// with a README giving source, licence and checksum): adult/adult.data (UCI
// Adult, CC BY 4.0), adult/arx/ (ARX, Apache-2.0), adult/basic_mondrian/
// (Basic_Mondrian, MIT), fashion-mnist/ (Zalando, MIT). Tests that need them
// read the folder from the PRIVML_DATASETS environment variable and skip when
// it is absent.
//
// # Preparing data for training
//
// [Dataset.Split] makes a deterministic, stratified train/test split and
// [Standardize] scales features to z-scores using training-set statistics
// only.
package dataset
