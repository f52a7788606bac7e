module github.com/outrigger/outrigger/exporters/litellm-cost

go 1.26.0
