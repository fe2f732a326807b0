/*
 * ropa.h: the reader of a body's register of processing activities (GDPR
 * art. 30) as bodies export it from a spreadsheet: tab-separated or ';' / ','
 * CSV with RFC 4180 quotes, UTF-8 (with or without a BOM), Windows-1252 or
 * UTF-16, LF, CRLF or CR line ends, title lines above an Italian header row.
 * It turns the bytes into activities and a list of anomalies, each with the
 * physical line (1-based) it comes from, so that nothing is dropped without
 * a word. It also splits the run-together cells of such registers (people,
 * categories, processors) and measures how far two names are apart.
 *
 * Pure and shared by dsrd and dsrctl: no I/O, no logging, no locale, no
 * database; memory comes from util.h's allocators. Anomaly texts name
 * columns and cell positions, never the content of a cell.
 */
#ifndef DSR_ROPA_H
#define DSR_ROPA_H

#include <stddef.h>

/* The columns of the register, in the order of the real file. */
enum ropa_field {
	ROPA_F_NAME,		/* Denominazione: the activity's identity */
	ROPA_F_PURPOSE,		/* Finalità */
	ROPA_F_JOINT,		/* Contitolare */
	ROPA_F_OFFICE,		/* Strutture */
	ROPA_F_MANAGERS,	/* Designati: "Surname Name" run together */
	ROPA_F_STAFF,		/* Incaricati: likewise */
	ROPA_F_PROCESSORS,	/* Responsabili (art. 28 processors) */
	ROPA_F_INDEPENDENT,	/* Titolari autonomi */
	ROPA_F_SOFTWARE,	/* Software e servizi */
	ROPA_F_DATA,		/* Categorie dati personali */
	ROPA_F_RETENTION,	/* Termine di cancellazione dei dati */
	ROPA_F_SUBJECTS,	/* Categorie interessati */
	ROPA_F_RECIPIENTS,	/* Categorie destinatari */
	ROPA_F_CLOUD,		/* In modalità cloud: yes/no */
	ROPA_F_TRANSFERS,	/* Trasferimenti in banche dati: yes/no */
	ROPA_F_FOR_OTHERS,	/* Responsabile conto terzi: yes/no */
	ROPA_F_CONTROLLER,	/* Titolare */
	ROPA_F_SECURITY,	/* Misure di sicurezza tecniche e organizzative */
	ROPA_F_COUNT
};

/* Machine names ("name", "office", "data_categories", ...) for JSON. */
extern const char *const ropa_field_names[ROPA_F_COUNT];
/* The Italian header of each column, as the real register spells it
   (correctly: "Trasferimenti"). */
extern const char *const ropa_field_labels[ROPA_F_COUNT];

enum ropa_yn {
	ROPA_UNKNOWN,		/* "", "-", "--", "/", "n.a.", "n/a" */
	ROPA_YES,		/* "Si", "Sì", "Sí", "yes", "s", "y", "x",
				   "vero", "true", "1" */
	ROPA_NO			/* "No", "n", "falso", "false", "0" */
};
extern const char *const ropa_yn_names[3];	/* "unknown", "yes", "no" */

/*
 * Reads a yes/no cell: one of the forms above, in any case, accents on the
 * "i" or not, white space around. Returns 0 and sets *out, or -1 when the
 * text is none of them (*out = unknown).
 */
int	ropa_yesno(const char *, enum ropa_yn *out);

enum ropa_encoding {
	ROPA_ENC_UTF8,
	ROPA_ENC_UTF8_BOM,
	ROPA_ENC_CP1252,	/* anything that is not valid UTF-8 */
	ROPA_ENC_UTF16LE,	/* spreadsheets' "Unicode text" */
	ROPA_ENC_UTF16BE,
	ROPA_ENC_COUNT
};
extern const char *const ropa_encoding_names[ROPA_ENC_COUNT];

enum ropa_eol {
	ROPA_EOL_NONE,		/* a single line without a line end */
	ROPA_EOL_LF,
	ROPA_EOL_CRLF,
	ROPA_EOL_CR,
	ROPA_EOL_COUNT
};
extern const char *const ropa_eol_names[ROPA_EOL_COUNT];

/*
 * What was found wrong, or done, on one line. Kinds marked "row dropped"
 * mean the row did not become an activity; the others come with a row
 * that was imported (or, for the header kinds, with the header line).
 */
enum ropa_anomaly_kind {
	ROPA_A_BLANK,		/* blank line skipped (row dropped) */
	ROPA_A_NO_NAME,		/* no Denominazione (row dropped) */
	ROPA_A_NAME_ONLY,	/* a name and nothing else: a heading or a
				   note, not an activity (row dropped) */
	ROPA_A_DUPLICATE,	/* same name and office as an earlier row
				   (row dropped) */
	ROPA_A_HEADER_AGAIN,	/* the header row repeated (row dropped) */
	ROPA_A_REALIGNED,	/* a shifted row: cells moved to the columns
				   their content fits */
	ROPA_A_EXTRA_CELLS,	/* more cells than the header has columns */
	ROPA_A_NOT_YES_NO,	/* a yes/no column holds something else: read
				   as unknown */
	ROPA_A_CONTROL_CHARS,	/* control characters replaced by spaces */
	ROPA_A_QUOTE,		/* a quote never closed: read as a character */
	ROPA_A_UNKNOWN_COLUMN,	/* header names a column not known: ignored */
	ROPA_A_MISSING_COLUMN,	/* a known column is absent from the header */
	ROPA_A_DUPLICATE_COLUMN,/* a column named twice: the first is used */
	ROPA_A_HEADER_FUZZY,	/* a header read leniently (a typo) */
	ROPA_A_COUNT
};
extern const char *const ropa_anomaly_names[ROPA_A_COUNT];
/* 1 when an anomaly of that kind means its row was not imported. */
int	ropa_anomaly_drops_row(enum ropa_anomaly_kind);

struct ropa_anomaly {
	size_t			 line;
	enum ropa_anomaly_kind	 kind;
	char			*detail;	/* English, for a person */
};

/*
 * One activity. Every f[] is a string ("" when empty or "-"): trimmed,
 * runs of spaces made one, control characters replaced. The three yes/no
 * columns keep their text in f[] and their reading below.
 */
struct ropa_activity {
	size_t		 line;		/* physical line where the row starts */
	char		*f[ROPA_F_COUNT];
	enum ropa_yn	 cloud, transfers, for_others;
};

/* A title line above the header ("Comunità della Val di Non", ...). */
struct ropa_title {
	size_t		 line;
	char		*text;		/* its non-empty cells, space-joined */
};

struct ropa {
	enum ropa_encoding	 encoding;
	enum ropa_eol		 eol;
	char			 delimiter;	/* '\t', ';' or ',' */
	size_t			 lines;		/* physical lines in the file */
	size_t			 header_line;
	int			 column[ROPA_F_COUNT];	/* 0-based, or -1 */
	size_t			 ncolumns;	/* columns the header names */

	struct ropa_title	*titles;
	size_t			 ntitles;
	struct ropa_activity	*act;
	size_t			 nact;
	struct ropa_anomaly	*anom;		/* in line order */
	size_t			 nanom;

	size_t			 rows;		/* non-blank rows below the
						   header: nact + dropped */
	size_t			 blank;		/* blank lines, anywhere */
	size_t			 dropped;	/* rows not imported */
	size_t			 realigned;
};

/* Progress for a large file: fn(done, total, arg) every `every` rows (0:
   1000) and once at the end with done == total (bytes of the input). */
struct ropa_opts {
	void	(*progress)(size_t done, size_t total, void *arg);
	void	*arg;
	size_t	 every;
};

/*
 * Parses a register. Returns 0 and fills *out (the caller frees it with
 * ropa_free), or -1 and *cause (heap, caller frees) when there is nothing
 * to read: an empty file, no header row among the first lines, no
 * Denominazione column. Malformed rows are never an error: they are
 * anomalies. On failure *out holds nothing (ropa_free is harmless).
 */
int	ropa_parse(const char *bytes, size_t len, struct ropa *out,
	    char **cause);
int	ropa_parse_opts(const char *bytes, size_t len,
	    const struct ropa_opts *, struct ropa *out, char **cause);
void	ropa_free(struct ropa *);

/*
 * The column a header cell names, matched leniently: case, accents,
 * punctuation and small words ("di", "in") do not count, a longer header
 * that begins with a known one matches it ("Finalità del trattamento"),
 * and a typo after the first letter within a small edit distance is
 * forgiven ("Traferimenti").
 * Returns the field or -1; *fuzzy (may be NULL) is set to 1 when only the
 * typo rule matched.
 */
int	ropa_header_field(const char *label, int *fuzzy);

/* A list of strings the caller owns; free with ropa_list_free. */
struct ropa_list {
	size_t	  n;
	char	**v;
};
void	ropa_list_free(struct ropa_list *);

/*
 * Splits a people cell ("Cavosi Fiorenzo Guazzeroni Marco Adipietro Maria
 * Assunta") into "Surname Name" items. Explicit separators (new lines, ';',
 * ',', '/') are honoured first; within a piece the tokens pair up, with
 * surname particles ("De Luca") and double given names ("Maria Assunta",
 * "Anna Rita") recognised from a list of Italian given names. The _known
 * form first takes the full names of a staff directory found in the cell
 * (case and accents ignored), preferring the longest, and pairs the rest.
 * Items are the cell's own words. Returns the number of items (out->n).
 */
size_t	ropa_split_people(const char *cell, struct ropa_list *out);
size_t	ropa_split_people_known(const char *cell, const char *const *known,
	    size_t nknown, struct ropa_list *out);

enum ropa_cat {
	ROPA_CAT_DATA,		/* "Dati personali ordinari Dati particolari" */
	ROPA_CAT_SUBJECTS,	/* "Cittadini Soggetti con rapporti ..." */
	ROPA_CAT_RECIPIENTS	/* "Persone autorizzate Soggetti terzi" */
};

/*
 * Splits a category cell at line breaks, ';' and ','. Data categories
 * start with "Dati"; subjects and recipients are matched against the
 * phrases known from real registers, the longest first. What remains is
 * cut where a capitalised word follows a lower-case one that does not join
 * a phrase ("Dati anagrafici Codice fiscale" is two, "Dati relativi a
 * Minori" one). Returns the number of items.
 */
size_t	ropa_split_categories(const char *cell, enum ropa_cat,
	    struct ropa_list *out);

/*
 * Splits a processors cell ("Clesius S.R.L. Trentino Digitale S.p.A.")
 * after company suffixes (S.p.A., S.r.l., Srl, ...), around names known
 * here or given in known[] (may be NULL), before professional titles
 * ("dott.", "arch.") and organisation words ("Avvocatura", "Comune"), and
 * where a run of capitals begins or ends. Otherwise the cell is one item.
 */
size_t	ropa_split_processors(const char *cell, const char *const *known,
	    size_t nknown, struct ropa_list *out);

/*
 * Damerau-Levenshtein distance (adjacent transpositions, unrestricted) in
 * characters between two names after folding case and accents and making
 * runs of white space one space: "Rosli Moreno" ~ "Rossi Moreno" is 1.
 */
int	ropa_name_distance(const char *, const char *);
/*
 * The known name nearest to name (the first on ties), or -1 when n is 0;
 * *dist (may be NULL) gets its distance.
 */
long	ropa_best_match(const char *name, const char *const *known, size_t n,
	    int *dist);
/* The largest distance worth offering as a near miss for a name: 1 up to 6
   characters, 2 up to 12, then 3. */
int	ropa_near_miss_limit(const char *name);

#endif
