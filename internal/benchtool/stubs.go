package main

func (b *bench) durable() error  { return errSkip }
func (b *bench) trail() error    { return errSkip }
func (b *bench) simScale() error { return errSkip }
func (b *bench) startup() error  { return errSkip }
