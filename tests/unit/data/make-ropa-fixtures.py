#!/usr/bin/python3
# make-ropa-fixtures.py: derives the test fixtures of test_ropa.c and the
# seeds of tests/fuzz/fuzz_ropa.c from the real register of processing
# activities (registro-trattamenti-val-di-non.tsv, a copy of ../shared/data's:
# UTF-8, tabs, LF, 117 lines). Run it from anywhere; it writes next to itself
# and into ../../fuzz/corpus/fuzz_ropa, and must never change the TSV.
#
# registro-trattamenti-val-di-non-cp1252.csv is the same register as a
# spreadsheet on Windows saves it as "CSV (separato da punto e virgola)":
# Windows-1252, ';' between cells, CRLF line ends, text cells in double
# quotes (doubled inside), empty cells bare. Every physical line of the TSV
# stays one physical line of the CSV, so the line numbers of activities and
# anomalies must come out the same.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "registro-trattamenti-val-di-non.tsv")
DST = os.path.join(HERE, "registro-trattamenti-val-di-non-cp1252.csv")
SEEDS = os.path.join(HERE, "..", "..", "fuzz", "corpus", "fuzz_ropa")


def quote(cell):
    if cell == "":
        return ""
    return '"' + cell.replace('"', '""') + '"'


def as_csv(lines):
    return "\r\n".join(";".join(quote(c) for c in l.split("\t"))
                       for l in lines)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    with open(SRC, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    # cp1252 fails on a character it cannot hold: then the fixture is wrong
    write(DST, as_csv(lines).encode("cp1252"))

    # Seeds: a few rows of each shape the reader must handle, small enough
    # for the fuzzer to mutate (titles, header, plain rows, a blank line,
    # shifted rows, the nameless row, 19-cell rows, the last line).
    pick = list(range(0, 9)) + [27, 28, 29, 76] + list(range(104, 108)) + \
        [112, 113, 116]
    part = [lines[i] for i in pick]
    os.makedirs(SEEDS, exist_ok=True)
    write(os.path.join(SEEDS, "real.tsv"), "\n".join(part).encode("utf-8"))
    write(os.path.join(SEEDS, "real-cp1252.csv"),
          as_csv(part).encode("cp1252"))
    write(os.path.join(SEEDS, "real-utf16.txt"),
          "\n".join(part[:9]).encode("utf-16"))  # with a BOM
    write(os.path.join(SEEDS, "quoted.csv"), (
        'Registro;;\r\n'
        'Denominazione;Finalità;Strutture;Categorie interessati;'
        'In modalità cloud\r\n'
        '"Gestione ""PEC""";"Servizi; ai cittadini";Servizio Istruzione;'
        'Cittadini;Sì\r\n'
        '"Gestione\r\nprotocollo";"Finalità su\r\ndue righe";'
        '"Servizio Finanziario";Utenti;No\r\n'
        '"Gestione sito;Comunicazione;Ufficio stampa;Cittadini;Si\r\n'
    ).encode("utf-8"))
    write(os.path.join(SEEDS, "reordered.csv"), (
        '"Note","Strutture","Denominazione del trattamento",'
        '"In modalità cloud","Traferimenti in banche dati"\n'
        '"vedi allegato","Ufficio Tributi","Gestione IMU","No","Si"\n'
        'Denominazione,Strutture\n'
        'Servizio Istruzione,,\n'
    ).encode("cp1252"))
    write(os.path.join(SEEDS, "no-header.txt"),
          "\r\n".join(lines[7:9]).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
