# bench/lib/chart.gp: grouped bars of median requests (or connections) per second for the three proxies.
# Called by report.py with -e "datafile='...'; outfile='...'"; missing values (NaN) leave a gap.
set terminal pngcairo size 1100,560 font "sans,10"
set output outfile
set title "proxyd vs nginx vs HAProxy (median per scenario, log scale; one worker each)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [100:*]
set ylabel "requests or connections per second"
set grid ytics
set key top right
set xtics rotate by -20
plot datafile using 2:xtic(1) title "proxyd" lc rgb "#1b9e77", \
     '' using 3 title "nginx" lc rgb "#7570b3", \
     '' using 4 title "haproxy" lc rgb "#d95f02"
