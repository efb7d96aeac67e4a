package main

import "errors"

// drawChart draws the run into file (.png or .svg).
func drawChart(res result, file string) error { return errors.New("-chart is not implemented yet") }
