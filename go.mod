module github.com/btfs/btfs

go 1.26.8
