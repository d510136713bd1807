# Joins the two upstream files into a readable report.
# First file (stats): "words N" / "distinct N".  Second file (top): "WORD COUNT" lines.
FNR == NR { stats[$1] = $2; next }
{ top[++n] = $1; count[n] = $2 }
END {
    printf "words: %d\n", stats["words"]
    printf "distinct: %d\n", stats["distinct"]
    printf "top words (stopwords removed):\n"
    for (i = 1; i <= n; i++)
        printf "%2d. %-16s %d\n", i, top[i], count[i]
}
