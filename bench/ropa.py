"""bench/ropa.py: benchmark 7 of bench/run (issue 7): a register of
processing activities of 10,000 rows imported with `dsrctl ropa import`,
timed end to end (the dsrctl process, from exec to exit: reading and
splitting the file, the staff directory, the batches on one connection, the
apply in one transaction). Target: under a second. Timed three ways, each
the median of a few runs: into a body that has no register yet (every
activity inserted), the same file again (nothing changes), and a new
version with one row changed. Beside them, the same file as a dry run.

It runs the release build/dsrd and build/dsrctl on a cluster of its own
(bench/run's Cluster and Daemon) and writes only under bench/run's
temporary directory. The rows are generated, as long as real ones (the
real register of a body has 104).
"""

import json
import statistics
import subprocess
import time

STAFF = ["Rossi Mario", "Bianchi Anna", "Verdi Paolo", "Neri Giulia",
         "Gallo Luca", "Zanella Paolo", "Cavosi Fiorenzo", "Inama Fabrizio"]

HEADER = ("Denominazione\tFinalità\tContitolare\tStrutture\tDesignati\t"
          "Incaricati\tResponsabili\tTitolari autonomi\tSoftware e servizi\t"
          "Categorie dati personali\tTermine di cancellazione dei dati\t"
          "Categorie interessati\tCategorie destinatari\tIn modalità cloud\t"
          "Trasferimenti in banche dati\tResponsabile conto terzi\tTitolare\t"
          "Misure di sicurezza tecniche e organizzative")


def register(n, changed=None):
    """The lines of a register of n activities; activity `changed` gets
    another purpose."""
    rows = ["Comune di Prova", "Registro delle attività di trattamento",
            HEADER]
    for i in range(n):
        p = [STAFF[(i + k) % len(STAFF)] for k in range(4)]
        rows.append("\t".join([
            "Attività numero %05d" % i,
            "Servizi ai cittadini" if i != changed else "Servizi sociali",
            "", "Servizio %d" % (i % 12), " ".join(p[:2]), " ".join(p),
            "Clesius S.R.L. Trentino Digitale S.p.A.", "",
            "Software %d" % (i % 7),
            "Dati personali ordinari Dati particolari Dati giudiziari",
            "I dati sono conservati per il periodo strettamente necessario "
            "all'esecuzione del compito o della funzione di interesse "
            "pubblico e comunque a termini di legge.",
            "Cittadini Soggetti con rapporti funzionali o di dipendenza "
            "dall'ente Utenti", "Persone autorizzate Soggetti terzi",
            "Si" if i % 2 else "No", "No", "-", "", ""]))
    return "\n".join(rows) + "\n"


def run(opt, table, cluster_cls, daemon_cls, die, log, work, dsrctl):
    n = opt.ropa_rows
    runs = 1 if opt.quick else 3
    cl = cluster_cls("ropa")
    d = daemon_cls("ropa", cl).start()
    base = work / "ropa"
    base.mkdir(exist_ok=True)
    v1 = base / "registro.tsv"
    v1.write_text(register(n))
    v2 = base / "registro-v2.tsv"
    v2.write_text(register(n, changed=n // 2))

    def ctl(*args):
        p = subprocess.run([str(dsrctl), "--socket", str(d.socket),
                            "--json"] + [str(a) for a in args],
                           capture_output=True, text=True)
        if p.returncode != 0:
            die("dsrctl %s: exit %d: %s %s" % (" ".join(map(str, args[:3])),
                                               p.returncode, p.stdout[:300],
                                               p.stderr[:300]))
        return p.stdout

    def timed(*args):
        t0 = time.monotonic()
        out = ctl(*args)
        return time.monotonic() - t0, out

    first, again, changed, dry = [], [], [], []
    for k in range(runs):
        body = "bench%d" % k
        ctl("entity", "add", body, "--name", "Comune di Prova %d" % k)
        for s in STAFF:
            ctl("staff", "add", s, "--entity", body)
        dry.append(timed("ropa", "import", v1, "--entity", body,
                         "--dry-run")[0])
        t, out = timed("ropa", "import", v1, "--entity", body)
        if json.loads(out)["import"]["activities"] != n:
            die("the import did not answer %d activities" % n)
        first.append(t)
        again.append(timed("ropa", "import", v1, "--entity", body)[0])
        changed.append(timed("ropa", "import", v2, "--entity", body)[0])
        d.check_alive()
        log("ropa %d/%d: first %.2f s, again %.2f s, one changed %.2f s, "
            "dry run %.2f s" % (k + 1, runs, first[-1], again[-1],
                                changed[-1], dry[-1]))
    worst = max(statistics.median(first), statistics.median(again),
                statistics.median(changed))
    table.append(("7", "register import: %s activities, dsrctl ropa "
                  "import end to end (median of %d)" % ("{:,}".format(n),
                                                       runs),
                  "%.2f s new, %.2f s again, %.2f s one changed" % (
                      statistics.median(first), statistics.median(again),
                      statistics.median(changed)),
                  "dry run %.2f s" % statistics.median(dry), "",
                  "< 1 s", worst < 1.0))
    d.stop()
    cl.stop()
