"""python -m mmlib.data.synthetic OUT --profile quick: write the synthetic corpus."""

from mmlib.data.synthetic.write import main

main()
