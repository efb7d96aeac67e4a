package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

func sortedKeys[V any](m map[string]V) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func medianD(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%s (%s–%s)", ms(s[len(s)/2]), strings.TrimSuffix(ms(s[0]), " ms"), ms(s[len(s)-1]))
}

func workerName(cfg config, v *variant) string {
	for n, b := range cfg.workers {
		if b == v.worker {
			return n
		}
	}
	return "?"
}

func printTable(cfg config, floors map[string][]time.Duration, bare map[string]float64, results map[*variant]*result) {
	row := func(label string, f func(v *variant, r *result) string) {
		cells := []string{label}
		for _, v := range cfg.variants {
			cells = append(cells, f(v, results[v]))
		}
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	fmt.Print("| measure (median (min–max)) |")
	for _, v := range cfg.variants {
		fmt.Printf(" %s |", v.name)
	}
	fmt.Println()
	fmt.Println("|---" + strings.Repeat("|---", len(cfg.variants)) + "|")
	n := cfg.samples
	half := (cfg.samples + 1) / 2
	row(fmt.Sprintf("floor: bare worker, fork+exec → first response (%d each)", n),
		func(v *variant, r *result) string { return durations(floors[workerName(cfg, v)]) })
	row(fmt.Sprintf("HUP → new worker serving (%d HUPs)", n),
		func(v *variant, r *result) string { return durations(r.serving) })
	row("HUP → new worker serving, minus the floor (ratio: ÷ floor)",
		func(v *variant, r *result) string {
			s, f := medianD(r.serving), medianD(floors[workerName(cfg, v)])
			return fmt.Sprintf("%s (%.2f×)", ms(s-f), float64(s)/float64(f))
		})
	row(fmt.Sprintf("HUP → old worker exited (%d HUPs)", half),
		func(v *variant, r *result) string { return durations(r.oldExited) })
	row(fmt.Sprintf("`start_server --restart` → returned, new generation alone (%d runs)", half),
		func(v *variant, r *result) string { return durations(r.restartCmd) })
	row(fmt.Sprintf("storm: %d HUPs 2 ms apart, 10 clients: workers started; HUP → one worker left; failed requests", cfg.storm),
		func(v *variant, r *result) string {
			if r.stormStarted == 0 {
				return "—"
			}
			return fmt.Sprintf("%d; %s; %s", r.stormStarted, r.stormSettle.Round(time.Millisecond), r.stormErr)
		})
	for _, ka := range []bool{false, true} {
		row(fmt.Sprintf("failed requests per restart, %d clients, keep-alive %s (%d restarts)", cfg.clients, onOff(ka), cfg.restarts),
			func(v *variant, r *result) string { return or(r.errs[ka]) })
	}
	row(fmt.Sprintf("throughput, keep-alive, median of %d × %v: req/s (ratio: ÷ the same worker bare, %.0f / %.0f req/s perlworker / example)",
		cfg.tputRounds, cfg.tputTime, bare["perlworker"], bare["example"]),
		func(v *variant, r *result) string {
			if r.rps == 0 {
				return "—"
			}
			return fmt.Sprintf("%.0f (%.3f×)", r.rps, r.rps/bare[workerName(cfg, v)])
		})
	row(fmt.Sprintf("starter's open fds before → after %d restarts", cfg.fdRestarts),
		func(v *variant, r *result) string {
			if r.fdsBefore == 0 {
				return "—"
			}
			return fmt.Sprintf("%d → %d", r.fdsBefore, r.fdsAfter)
		})
	row("starter RSS (VmRSS) after the HUP rows", func(v *variant, r *result) string { return fmt.Sprintf("%d KiB", r.rssKiB) })
	row(fmt.Sprintf("starter CPU while idle for %v (utime+stime, 10 ms ticks)", cfg.idleTime),
		func(v *variant, r *result) string { return fmt.Sprintf("%d", r.idleTicks) })
}

func or(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
