// Package supervisortest helps test code that uses arbor supervisors: a fake
// [Clock] that moves only when told, and a [Recorder] of supervisor events that
// can wait for one.
//
// Tests synchronise on what happened (an event, a timer being armed), never on
// sleeps.
package supervisortest
