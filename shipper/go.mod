module github.com/outrigger/outrigger/shipper

go 1.26.0
