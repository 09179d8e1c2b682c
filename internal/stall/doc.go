// Package stall bounds HTTP exchanges in time without bounding their
// length: a Transport gives every request a timer that fires when no byte
// has arrived for a while (the wait for the response headers included) and
// is pushed back by every byte of the body. The builder's registry client
// and chart downloads use it; ferry-install never links it.
//
// bundle/fetch keeps its own timer, which also drives its resumable
// downloads.
package stall
