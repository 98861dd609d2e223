"""Networks: NB201 and DARTS supernets and stand-alone cells, their ops and costs."""
